"""UI languages: gettext catalogs (Babel ``.po`` files) compiled in memory at start-up, and
the language of a request.

UI strings are written in English in templates (``{{ _("Orders") }}``) and in Python
(marked with ``N_``); the ``zh_CN`` catalogs translate them. ``.po`` files are the only
source: nothing is compiled ahead of time, so a fresh clone serves Chinese at once. Each
owner of templates keeps its catalog beside them (``core/locale``, ``tenants/locale``,
``plugins/<name>/locale``); they are merged into one catalog per language.
"""

from __future__ import annotations

import gettext
from collections.abc import Iterable
from io import BytesIO
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

LOCALES = ("zh_CN", "en")
DEFAULT_LOCALE = "zh_CN"
LOCALE_NAMES = {"zh_CN": "简体中文", "en": "English"}
CATALOG = Path("LC_MESSAGES") / "messages.po"


def N_(message: str) -> str:
    """Mark a UI string written in Python so Babel extracts it; it is translated where it
    is shown (a template calls ``_()`` on it)."""
    return message


def catalog_files(locale_dir: Path, locale: str) -> Path:
    return locale_dir / locale / CATALOG


def load_translations(locale_dirs: Iterable[Path]) -> dict[str, gettext.NullTranslations]:
    """One gettext translations object per language; the English msgids need none.
    A later directory's entry wins over an earlier one's; fuzzy and empty entries are left
    out, so they show in English rather than as nothing."""
    dirs = list(locale_dirs)
    result: dict[str, gettext.NullTranslations] = {"en": gettext.NullTranslations()}
    for locale in LOCALES:
        if locale == "en":
            continue
        merged = Catalog(locale=locale)
        for locale_dir in dirs:
            path = catalog_files(locale_dir, locale)
            if not path.is_file():
                continue
            with path.open("rb") as po:
                for message in read_po(po, locale=locale):
                    if message.id and message.string and not message.fuzzy:
                        merged[message.id] = message
        buffer = BytesIO()
        write_mo(buffer, merged)
        buffer.seek(0)
        result[locale] = Translations(buffer)
    return result


def _normalise(tag: str) -> str | None:
    tag = tag.strip().lower().replace("-", "_")
    if tag.startswith("zh"):
        return "zh_CN"
    if tag.startswith("en"):
        return "en"
    return None


def negotiate(chosen: str, accept_language: str | None) -> str:
    """The person's own choice, else the browser's first language we have, else zh_CN."""
    if chosen in LOCALES:
        return chosen
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        locale = _normalise(tag)
        if locale is not None and quality > 0:
            ranked.append((-quality, index, locale))
    return min(ranked)[2] if ranked else DEFAULT_LOCALE
