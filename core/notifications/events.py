"""Notification events: what the core and the plugins can tell a buyer, and what each offers.

An event is declared once, at start-up, through the ``register_notification_events`` hook:
a name (``<plugin>.<what>``), a title the merchant sees, and the fields it offers. The
merchant maps an event to one of their WeChat subscribe-message templates and its fields to
the template's keys (``thing1``, ``character_string2``, ...). Code that records a notice names
the event and gives the field values (``core.notifications.service.notify``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Literal, cast

import msgspec
import pluggy

# How a field's value is written as text: ``amount`` is integer fen ("¥12.50"), ``datetime``
# and ``date`` are aware datetimes (China time, WeChat's "2026年11月23日 14:30"), ``number``
# an int, ``code`` an identifier for a character_string key, ``text`` anything else.
FieldKind = Literal["text", "code", "number", "amount", "datetime", "date"]

EVENT_NAME = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
FIELD_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
MAX_EVENT_NAME = 64
CORE_OWNER = "core"


class EventField(msgspec.Struct, frozen=True):
    """One value an event offers: ``EventField("product", "商品", example="拿铁等2件")``."""

    name: str
    title: str
    kind: FieldKind = "text"
    # What "send a test" puts in this field; the merchant sees it when mapping.
    example: str = ""


class NotificationEvent(msgspec.Struct, frozen=True, kw_only=True):
    """A notice the core or a plugin can send. ``page`` is the mini-program page a tap on the
    message opens, with ``{field}`` placeholders (``pages/order/detail?id={order_id}``); the
    merchant may set another page per template."""

    name: str
    title: str
    description: str = ""
    fields: tuple[EventField, ...] = ()
    page: str = ""

    def field(self, name: str) -> EventField | None:
        for item in self.fields:
            if item.name == name:
                return item
        return None


class EventDeclarationError(RuntimeError):
    """An event declared by a plugin is malformed or declared twice: start-up stops."""


@dataclass(frozen=True)
class RegisteredEvent:
    event: NotificationEvent
    owner: str  # the plugin that declared it, or "core"


def _check(event: NotificationEvent, owner: str) -> None:
    where = f"notification event {event.name!r} of {owner}"
    if len(event.name) > MAX_EVENT_NAME or not EVENT_NAME.match(event.name):
        raise EventDeclarationError(f"{where}: the name must look like 'plugin.what'")
    names = [f.name for f in event.fields]
    if len(set(names)) != len(names):
        raise EventDeclarationError(f"{where}: a field name is used twice")
    for name in names:
        if not FIELD_NAME.match(name):
            raise EventDeclarationError(f"{where}: bad field name {name!r}")
    for placeholder in PLACEHOLDER.findall(event.page):
        if placeholder not in names:
            raise EventDeclarationError(f"{where}: page names unknown field {placeholder!r}")


class EventCatalog(Mapping[str, RegisteredEvent]):
    """Every declared event by name, with the plugin that declared it."""

    def __init__(self, events: Iterable[RegisteredEvent] = ()) -> None:
        self._events: dict[str, RegisteredEvent] = {}
        for registered in events:
            _check(registered.event, registered.owner)
            name = registered.event.name
            if name in self._events:
                first = self._events[name].owner
                raise EventDeclarationError(
                    f"notification event {name!r} is declared by {first} and {registered.owner}"
                )
            self._events[name] = registered

    def __getitem__(self, name: str) -> RegisteredEvent:
        return self._events[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._events)

    def __len__(self) -> int:
        return len(self._events)

    def for_tenant(self, enabled_plugins: frozenset[str]) -> list[RegisteredEvent]:
        """The core's events and those of the plugins a tenant has on, in declaration order."""
        return [
            r for r in self._events.values() if r.owner == CORE_OWNER or r.owner in enabled_plugins
        ]


def build_catalog(pm: pluggy.PluginManager) -> EventCatalog:
    """Call ``register_notification_events`` on every installed plugin, once at start-up."""
    found: list[RegisteredEvent] = []
    # Registration order (core modules first), not pluggy's last-registered-first.
    for impl in reversed(pm.hook.register_notification_events.get_hookimpls()):
        owner = CORE_OWNER if impl.plugin_name.startswith("core.") else impl.plugin_name
        declared = cast("Iterable[object] | None", impl.function()) or []
        for event in declared:
            if not isinstance(event, NotificationEvent):
                raise EventDeclarationError(
                    f"{owner}: register_notification_events must return NotificationEvent items"
                )
            found.append(RegisteredEvent(event=event, owner=owner))
    return EventCatalog(found)
