"""What the console's framework exchanges with the pages and plugins that use it."""

from __future__ import annotations

from typing import Literal

import msgspec

from core.console.i18n import N_

# Where an entry goes in the navigation, in this order ("provider": the vendor console's).
NavSection = Literal["provider", "store", "marketing", "service", "settings"]
SECTIONS: tuple[NavSection, ...] = ("provider", "store", "marketing", "service", "settings")
SECTION_LABELS = {
    "provider": N_("Provider"),
    "store": N_("Store"),
    "marketing": N_("Marketing"),
    "service": N_("Service"),
    "settings": N_("Settings"),
}
ROLE_LABELS = {
    "owner": N_("Owner"),
    "manager": N_("Manager"),
    "clerk": N_("Clerk"),
    "vendor": N_("Operator"),
}


class NavItem(msgspec.Struct, frozen=True, kw_only=True):
    """One entry of the merchant console's navigation (hook ``console_nav``).

    ``label`` is an English msgid, translated with the catalogs (mark it with
    ``core.console.i18n.N_`` so Babel extracts it); ``path`` is relative to
    ``/console/{tenant}/`` (``"flashsale/activities"``); ``role`` is the lowest role that
    sees it (the page itself still checks with ``core.auth.require_staff``)."""

    label: str
    path: str
    role: Literal["clerk", "manager", "owner"] = "clerk"
    section: NavSection = "store"
    order: int = 100
