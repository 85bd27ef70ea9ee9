"""The consoles' templates: one Jinja2 environment per UI language over every owner's
``templates/`` folder, and the filters pages share (money in fen, China time).

A template is named by its owner's prefix: ``console/base.html`` (this package),
``analytics/dashboard.html`` (``core/analytics/templates/``), ``tenants/features.html``
(``tenants/templates/``), ``flashsale/activities.html`` (the plugin named ``flashsale``).
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, PrefixLoader, StrictUndefined

from core.auth import has_role
from core.console.forms import yuan
from core.console.i18n import load_translations
from core.plugins import PluginRegistry

# The times the console shows are China time (no summer time).
from core.wechatpay_schemas import CHINA

CORE_DIR = Path(__file__).resolve().parent.parent
STATIC_DIR = Path(__file__).resolve().parent / "static"
STATIC_PREFIX = "/static/console"
# Third-party files in STATIC_DIR: where each came from and its SHA-256 (a test checks it).
# To upgrade: ``npm pack htmx.org@<version>``, copy ``package/dist/htmx.min.js`` here under
# the new name, and update this entry and the layout's <script>.
VENDORED = {
    "htmx-2.0.11.min.js": (
        "npm htmx.org@2.0.11 dist/htmx.min.js (0BSD, htmx-LICENSE.txt)",
        "d6fdc75f204e6bdefa99b69bf1e6d4ac69b8a364f77929f45c13476b4000f717",
    ),
}


def money(fen: int | None) -> str:
    """Integer fen as yuan: 123456 → "¥1,234.56"."""
    fen = fen or 0
    sign = "-" if fen < 0 else ""
    yuan, cents = divmod(abs(fen), 100)
    return f"{sign}¥{yuan:,}.{cents:02d}"


def china_time(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(CHINA).strftime(fmt)


def core_template_dirs() -> dict[str, Path]:
    """``core/<domain>/templates`` of every core domain that has one, by domain name."""
    return {
        path.parent.name: path
        for path in sorted(CORE_DIR.glob("*/templates"))
        if path.is_dir() and not path.parent.name.startswith("_")
    }


def _package_dir(plugin: object) -> Path | None:
    module = sys.modules.get(getattr(plugin, "__name__", ""))
    file = getattr(module, "__file__", None)
    return Path(file).resolve().parent if file else None


def plugin_dirs(registry: PluginRegistry, folder: str) -> dict[str, Path]:
    """``<folder>`` beside each feature plugin's module (``templates``, ``locale``), by name."""
    found = {}
    for name in sorted(registry.metas):
        package = _package_dir(registry.pm.get_plugin(name))
        if package is not None and (package / folder).is_dir():
            found[name] = package / folder
    return found


def static_versions(directory: Path) -> dict[str, str]:
    """A short content hash per static file, put in its URL so browsers may keep it forever."""
    return {
        path.name: hashlib.sha256(path.read_bytes()).hexdigest()[:12]
        for path in sorted(directory.iterdir())
        if path.is_file()
    }


class ConsoleTemplates:
    """Built once at start-up (``storeplug.app``); rendering needs no I/O."""

    def __init__(self, template_dirs: Mapping[str, Path], locale_dirs: Iterable[Path]) -> None:
        self.template_dirs = dict(template_dirs)
        loader = PrefixLoader(
            {prefix: FileSystemLoader(str(path)) for prefix, path in self.template_dirs.items()}
        )
        self.translations = load_translations(locale_dirs)
        self.versions = static_versions(STATIC_DIR)
        self.envs: dict[str, Environment] = {}
        for locale, translations in self.translations.items():
            env = Environment(
                loader=loader,
                autoescape=True,
                undefined=StrictUndefined,
                extensions=["jinja2.ext.i18n"],
                trim_blocks=True,
                lstrip_blocks=True,
            )
            env.install_gettext_translations(translations, newstyle=True)  # type: ignore[attr-defined]
            # ``{{ text|t }}`` translates a msgid that comes from data (a plugin's label or
            # help text) without the %-formatting ``_()`` applies, so "100%" stays as it is.
            env.filters["t"] = translations.gettext
            env.filters["money"] = money
            env.filters["yuan"] = yuan  # fen as a money input shows it: 1250 → "12.50"
            env.filters["china_time"] = china_time
            env.globals["static"] = self.static_url
            # ``has_role(staff.role, "manager")``: whether to show what only that role may do
            # (the handler checks again).
            env.globals["has_role"] = has_role
            self.envs[locale] = env

    def static_url(self, name: str) -> str:
        version = self.versions.get(name)
        if version is None:
            raise LookupError(f"no static file {name!r} in {STATIC_DIR}")
        return f"{STATIC_PREFIX}/{name}?v={version}"

    def render(self, locale: str, name: str, context: Mapping[str, Any]) -> str:
        return self.envs[locale].get_template(name).render(context)

    def gettext(self, locale: str, message: str) -> str:
        return self.translations[locale].gettext(message)

    def template_names(self) -> list[str]:
        """Every template, for the tests that render or lint them all."""
        return sorted(self.envs["en"].list_templates(extensions=["html"]))
