"""Values as text: an event's values when a notice is recorded, then each value fitted to the
WeChat keyword it goes to when the notice is sent.

WeChat checks every keyword by its type, named by the key's prefix (``thing3`` is a
``thing``), and refuses the whole message (47003) when one does not fit:

========================  ==============================================================
``thing``                 up to 20 characters: Chinese, letters, digits, symbols
``short_thing``           up to 5 characters
``character_string``      up to 32 letters, digits and symbols
``number``                up to 32 digits, a decimal point allowed
``letter``                up to 32 letters
``symbol``                up to 5 symbols
``amount``                a currency sign and up to 10 digits, decimals allowed, "元" after
``time`` / ``date``       "15:01" / "2019年10月1日", either may carry the other part
``phone_number``          up to 17 digits and symbols
``car_number``            up to 8, Chinese only first and last
``name``                  up to 10 Chinese characters, or 20 letters
``phrase``                up to 5 Chinese characters
========================  ==============================================================

``fit`` cuts or strips a value so it passes, never in the middle of a character: lengths are
counted in UTF-16 units (what the mini-program counts; an emoji is two), a cut never splits a
surrogate pair or leaves a joiner, combining mark or half a flag at the end, and text that
was cut ends with "…".
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime, timedelta, timezone

from core.notifications.events import FieldKind

CHINA = timezone(timedelta(hours=8), "CST")
ELLIPSIS = "…"
KEY = re.compile(r"^([a-z_]+?)(\d+)$")

# key type -> longest value, in UTF-16 units
LIMITS: dict[str, int] = {
    "thing": 20,
    "short_thing": 5,
    "character_string": 32,
    "number": 32,
    "letter": 32,
    "symbol": 5,
    "phone_number": 17,
    "car_number": 8,
    "phrase": 5,
    "time": 40,
    "date": 40,
    "amount": 14,
    "name": 20,
    "enum": 40,
}
KEY_TYPES = frozenset(LIMITS)
_JOINERS = {"\u200d", "\ufe0e", "\ufe0f"}  # zero-width joiner, variation selectors


def key_type(key: str) -> str | None:
    """The WeChat type of a template key (``thing1`` → ``thing``), None if not one."""
    match = KEY.match(key)
    if match is None or match.group(1) not in KEY_TYPES:
        return None
    return match.group(1)


# ---- an event's values as text ------------------------------------------------------------


def yuan(fen: int) -> str:
    sign = "-" if fen < 0 else ""
    return f"{sign}¥{abs(fen) // 100}.{abs(fen) % 100:02d}"


def china_time(moment: datetime) -> str:
    local = moment.astimezone(CHINA)
    return f"{local.year}年{local.month}月{local.day}日 {local:%H:%M}"


def china_date(moment: date) -> str:
    if isinstance(moment, datetime):
        moment = moment.astimezone(CHINA).date()
    return f"{moment.year}年{moment.month}月{moment.day}日"


def as_text(kind: FieldKind, value: object) -> str:
    """One value of an event as the text stored on the notice."""
    if value is None:
        return ""
    if kind == "amount" and isinstance(value, int) and not isinstance(value, bool):
        return yuan(value)
    if kind == "datetime" and isinstance(value, datetime):
        return china_time(value)
    if kind == "date" and isinstance(value, date):
        return china_date(value)
    if isinstance(value, datetime):
        return china_time(value)
    return str(value)


# ---- fitting a value to a WeChat keyword -------------------------------------------------


def _units(text: str) -> int:
    return sum(2 if ord(ch) > 0xFFFF else 1 for ch in text)


def _clean_end(text: str) -> str:
    """Drop what would dangle after a cut: joiners, combining marks, half a flag."""
    while text and (text[-1] in _JOINERS or unicodedata.combining(text[-1])):
        text = text[:-1]
    flags = 0
    for ch in reversed(text):
        if not 0x1F1E6 <= ord(ch) <= 0x1F1FF:
            break
        flags += 1
    if flags % 2:  # regional indicators come in pairs; a lone one is no flag
        text = text[:-1]
    return text


def clip(text: str, limit: int, ellipsis: str = ELLIPSIS) -> str:
    """``text`` in at most ``limit`` UTF-16 units, cut between characters, marked with
    ``ellipsis`` when cut."""
    if _units(text) <= limit:
        return text
    room = limit - _units(ellipsis)
    end, used = 0, 0
    for ch in text:
        size = 2 if ord(ch) > 0xFFFF else 1
        if used + size > room:
            break
        end, used = end + 1, used + size
    # A mark or joiner right after the cut belongs to the character before it: drop both.
    while 0 < end < len(text) and (text[end] in _JOINERS or unicodedata.combining(text[end])):
        end -= 1
    return _clean_end(text[:end]).rstrip() + ellipsis


def _is_cjk(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf"


def _ascii_visible(text: str) -> str:
    return "".join(ch for ch in text if "!" <= ch <= "~")


def fit(key: str, text: str) -> str:
    """``text`` made acceptable for the template key ``key`` (by its type)."""
    kind = key_type(key)
    text = " ".join(text.split())  # no newlines or runs of spaces in a message card
    if kind is None:
        return clip(text, 20)
    limit = LIMITS[kind]
    if kind in ("thing", "short_thing"):
        return clip(text, limit)
    if kind == "character_string":
        return _ascii_visible(text)[:limit]
    if kind == "number":
        return "".join(ch for ch in text if ch.isascii() and (ch.isdigit() or ch == "."))[:limit]
    if kind == "letter":
        return "".join(ch for ch in text if ch.isascii() and ch.isalpha())[:limit]
    if kind == "symbol":
        return "".join(ch for ch in _ascii_visible(text) if not ch.isalnum())[:limit]
    if kind == "phone_number":
        return "".join(ch for ch in text if ch.isdigit() or ch in "+-() ").strip()[:limit]
    if kind == "phrase":
        return "".join(ch for ch in text if _is_cjk(ch))[:limit]
    if kind == "name":
        return clip(text, 10 if any(not ch.isascii() for ch in text) else 20, "")
    if kind == "car_number":
        return text.replace(" ", "")[:limit]
    return text[:limit]  # amount, time, date, enum: written in their format already
