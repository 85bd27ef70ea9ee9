"""Values fitted to WeChat's keyword types, checked with the fake WeChat's own rules (the
documented limits), and the event catalog's checks at start-up."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pluggy
import pytest

from core import hookspecs
from core.hookspecs import hookimpl
from core.notifications.events import (
    EventCatalog,
    EventDeclarationError,
    EventField,
    NotificationEvent,
    RegisteredEvent,
    build_catalog,
)
from core.notifications.fields import as_text, clip, fit, key_type
from storeplug.testing.fakes.wechat import value_fits

# 50 characters: Chinese, letters, an emoji (two UTF-16 units) and a combining accent.
LONG_NAME = (
    "云南小粒咖啡豆😀深度烘焙意式浓缩拼配Cafe\u0301手冲咖啡挂耳包"
    "礼盒装二十四包入限量版年货节特惠装送礼佳品"
)


def test_a_50_character_name_fits_thing_without_breaking_a_character() -> None:
    assert len(LONG_NAME) >= 50
    cut = fit("thing1", LONG_NAME)
    assert value_fits("thing1", cut)
    assert cut.endswith("…")
    assert LONG_NAME.startswith(cut[:-1])  # a prefix: whole characters only
    cut.encode("utf-8")  # no lone surrogate
    assert sum(2 if ord(c) > 0xFFFF else 1 for c in cut) <= 20


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("一二三四五六七八九十一二三四五六七八😀九十", "一二三四五六七八九十一二三四五六七八…"),
        ("一二三四五六七八九十一二三四五六七八九😀", "一二三四五六七八九十一二三四五六七八九…"),
        ("短名字", "短名字"),
        # The accent belongs to the e: cut before the pair, not between.
        ("abcdefghijklmnopqre\u0301xyz", "abcdefghijklmnopqr…"),
        # A flag is two regional indicators; half of one is no flag.
        ("一二三四五六七八九十一二三四五六七🇨🇳🇯🇵", "一二三四五六七八九十一二三四五六七…"),
        # A family emoji is joined with ZWJs; no joiner is left dangling.
        (
            "一二三四五六七八九十一二三四五六👨\u200d👩\u200d👧",
            "一二三四五六七八九十一二三四五六👨…",
        ),
    ],
)
def test_clip_cuts_between_characters(text: str, expected: str) -> None:
    assert clip(text, 20) == expected
    assert value_fits("thing1", expected)


@pytest.mark.parametrize(
    ("key", "text", "expected"),
    [
        ("character_string2", "订单 2026-0001/A", "2026-0001/A"),
        ("character_string2", "X" * 40, "X" * 32),
        ("number3", "共 12.5 件", "12.5"),
        ("letter4", "ab1c", "abc"),
        ("symbol5", "a!b@c#d$e%f^", "!@#$%"),
        ("phrase6", "已发货 (顺丰)", "已发货顺丰"),
        ("phrase6", "待取货待取货", "待取货待取"),
        ("name7", "王小明同学你好呀朋友们啊", "王小明同学你好呀朋友"),
        ("name7", "Alexander Hamilton Jr", "Alexander Hamilton J"),
        ("phone_number8", "电话 +86-0755-8888 8888", "+86-0755-8888 888"),
        ("thing9", "第一行\n第二行", "第一行 第二行"),
        ("amount10", "¥12.50", "¥12.50"),
        ("time11", "2026年11月23日 14:30", "2026年11月23日 14:30"),
    ],
)
def test_fit_per_keyword_type(key: str, text: str, expected: str) -> None:
    assert fit(key, text) == expected
    assert value_fits(key, expected)


def test_key_types() -> None:
    assert key_type("thing12") == "thing"
    assert key_type("character_string3") == "character_string"
    assert key_type("short_thing1") == "short_thing"
    assert key_type("thing") is None
    assert key_type("color1") is None


def test_values_as_text() -> None:
    moment = datetime(2026, 11, 23, 6, 30, tzinfo=UTC)  # 14:30 in China
    assert as_text("amount", 1250) == "¥12.50"
    assert as_text("amount", 5) == "¥0.05"
    assert as_text("datetime", moment) == "2026年11月23日 14:30"
    assert as_text("date", moment) == "2026年11月23日"
    assert as_text("date", date(2026, 1, 2)) == "2026年1月2日"
    assert as_text("number", 3) == "3"
    assert as_text("text", None) == ""
    for key, value in (("amount1", "¥12.50"), ("time2", as_text("datetime", moment))):
        assert value_fits(key, value)
    assert value_fits("date3", as_text("date", moment))


# ---- the catalog -----------------------------------------------------------------------------


def _event(name: str, **extra: object) -> NotificationEvent:
    return NotificationEvent(
        name=name,
        title="t",
        fields=(EventField("order_id", "订单"),),
        **extra,  # type: ignore[arg-type]
    )


def test_catalog_refuses_a_name_declared_twice_and_bad_declarations() -> None:
    ok = RegisteredEvent(_event("shop.paid"), "core")
    with pytest.raises(EventDeclarationError, match="declared by core and other"):
        EventCatalog([ok, RegisteredEvent(_event("shop.paid"), "other")])
    with pytest.raises(EventDeclarationError, match=r"plugin\.what"):
        EventCatalog([RegisteredEvent(_event("Paid"), "core")])
    with pytest.raises(EventDeclarationError, match="unknown field 'nope'"):
        EventCatalog([RegisteredEvent(_event("shop.paid", page="p?id={nope}"), "core")])
    twice = NotificationEvent(
        name="shop.x", title="t", fields=(EventField("a", "A"), EventField("a", "B"))
    )
    with pytest.raises(EventDeclarationError, match="used twice"):
        EventCatalog([RegisteredEvent(twice, "core")])


class _Declares:
    @hookimpl
    def register_notification_events(self) -> list[NotificationEvent]:
        return [_event("third.arrived", page="pages/x?id={order_id}")]


def test_build_catalog_reads_register_notification_events_with_owners() -> None:
    pm = pluggy.PluginManager("storeplug")
    pm.add_hookspecs(hookspecs)
    pm.register(_Declares(), name="third")
    catalog = build_catalog(pm)
    assert list(catalog) == ["third.arrived"]
    assert catalog["third.arrived"].owner == "third"
    assert catalog.for_tenant(frozenset()) == []
    assert [r.event.name for r in catalog.for_tenant(frozenset({"third"}))] == ["third.arrived"]
