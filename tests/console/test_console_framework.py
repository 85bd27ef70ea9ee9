"""The console's framework without a server: templates, catalogs, vendored files, forms
over msgspec Structs, language negotiation and the navigation hook."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Annotated, Literal

import msgspec
import pytest

from core.console.charts import bar_chart
from core.console.forms import field_comments, form_fields, parse_form
from core.console.i18n import negotiate
from core.console.render import STATIC_DIR, VENDORED, ConsoleTemplates, money
from core.console.schemas import NavItem
from core.context import Branding, TenantInfo
from storeplug.app import ROOT, build_console
from storeplug.runtime import build_runtime
from storeplug.testing import base_settings
from storeplug.testing.console import untranslated
from tests.conftest import TEST_PLUGINS

# Owners of UI strings and their catalogs.
OWNERS = {
    "core": ROOT / "core" / "locale",
    "tenants": ROOT / "tenants" / "locale",
    "tests/plugins/echo": ROOT / "tests" / "plugins" / "echo" / "locale",
    "plugins/sharecoupon": ROOT / "plugins" / "sharecoupon" / "locale",
    "plugins/pickup": ROOT / "plugins" / "pickup" / "locale",
}


@pytest.fixture(scope="module")
def console() -> ConsoleTemplates:
    return build_console(build_runtime(base_settings(plugin_modules=TEST_PLUGINS)))


def test_every_template_compiles_in_every_language(console: ConsoleTemplates) -> None:
    names = console.template_names()
    assert {"console/base.html", "analytics/dashboard.html", "tenants/features.html"} <= set(names)
    assert "echo/page.html" in names  # a plugin's templates/ beside its module
    for env in console.envs.values():
        for name in names:
            env.get_template(name)  # parses and compiles: a syntax error fails here


@pytest.mark.parametrize("owner", sorted(OWNERS))
def test_every_ui_string_has_a_chinese_translation(owner: str) -> None:
    missing = untranslated(ROOT / owner, OWNERS[owner])
    assert not missing, f"untranslated in {OWNERS[owner]}: {missing}"


def test_the_vendored_files_are_the_pinned_ones() -> None:
    for name, (_, sha256) in VENDORED.items():
        assert hashlib.sha256((STATIC_DIR / name).read_bytes()).hexdigest() == sha256, name
    assert (STATIC_DIR / "htmx-LICENSE.txt").is_file()
    base = (ROOT / "core" / "console" / "templates" / "base.html").read_text()
    assert "static('htmx-2.0.11.min.js')" in base


@pytest.mark.parametrize(
    ("chosen", "header", "expected"),
    [
        ("", None, "zh_CN"),
        ("", "en-US,en;q=0.9", "en"),
        ("", "fr-FR, en;q=0.5, zh;q=0.8", "zh_CN"),
        ("", "zh-TW", "zh_CN"),
        ("", "en;q=0, de", "zh_CN"),
        ("en", "zh-CN", "en"),
        ("zh_CN", "en", "zh_CN"),
        ("xx", "en;q=bad, en-GB", "en"),
    ],
)
def test_language_negotiation(chosen: str, header: str | None, expected: str) -> None:
    assert negotiate(chosen, header) == expected


class Sample(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A form with one of each kind of field."""

    # How many, from one to five.
    count: Annotated[int, msgspec.Meta(ge=1, le=5)] = 2
    name: Annotated[str, msgspec.Meta(min_length=2, max_length=8)]
    mode: Literal["a", "b"] = "a"  # which mode
    active: bool = False
    note: str | None = None
    tags: list[str] = []
    ratio: Annotated[int, msgspec.Meta(ge=0, le=100, description="Percent, 100% at most.")] = 50


def test_a_form_reports_every_bad_field_at_once() -> None:
    form = parse_form({"count": "9", "name": "", "mode": "z", "ratio": "x"}, Sample)
    assert not form.ok and form.data is None
    assert form.errors == {
        "count": ("Must be at most %(n)s.", {"n": "5"}),
        "name": ("This field is required.", {}),
        "mode": ("Choose one of the options.", {}),
        "ratio": ("Enter a whole number.", {}),
    }
    assert form.values["count"] == "9"  # shown again as typed


def test_a_good_form_becomes_the_struct() -> None:
    form = parse_form(
        {
            "count": "3",
            "name": "茶馆",
            "mode": "b",
            "active": "on",
            "tags": "x\n y \n\n",
            "note": "",
        },
        Sample,
    )
    assert form.ok, form.errors
    assert form.data == Sample(count=3, name="茶馆", mode="b", active=True, tags=["x", "y"])


def test_generated_fields_take_types_bounds_defaults_and_help() -> None:
    assert field_comments(Sample) == {"count": "How many, from one to five.", "mode": "which mode"}
    fields = {f.name: f for f in form_fields(Sample, {"name": "x"})}
    assert (fields["count"].kind, fields["count"].minimum, fields["count"].maximum) == (
        "integer",
        1,
        5,
    )
    assert fields["count"].value == 2 and fields["count"].help == "How many, from one to five."
    assert (fields["mode"].kind, fields["mode"].options) == ("select", ["a", "b"])
    assert fields["active"].kind == "checkbox" and fields["tags"].kind == "lines"
    assert fields["name"].value == "x" and fields["name"].max_length == 8
    assert fields["ratio"].help == "Percent, 100% at most."


def test_money_and_the_svg_bars() -> None:
    assert money(123456) == "¥1,234.56" and money(-5) == "-¥0.05" and money(None) == "¥0.00"
    chart = bar_chart([("a", 0, ""), ("b", 50, ""), ("c", 100, "")], width=300, height=118)
    assert [bar.height for bar in chart.bars] == [0.0, 50.0, 100.0]
    assert chart.bars[2].y == 0.0 and chart.peak == 100
    assert [bar.label for bar in chart.bars] == ["a", "", "c"]
    assert bar_chart([]).bars == []


def test_console_nav_answers_only_from_enabled_plugins() -> None:
    runtime = build_runtime(base_settings(plugin_modules=TEST_PLUGINS))

    def labels(enabled: frozenset[str]) -> set[str]:
        tenant = TenantInfo(
            id="t",
            slug="t",
            name="T",
            status="active",
            plan="p",
            plan_plugins=enabled,
            enabled_plugins=enabled,
            plugin_configs={},
            branding=Branding(),
        )
        hooks = runtime.plugins.hooks_for(enabled)
        items: list[NavItem] = [i for batch in hooks.console_nav(tenant=tenant) for i in batch]
        return {i.label for i in items}

    core = labels(frozenset())  # the core's and the vendor side's, always there
    assert {
        "Dashboard",
        "Analytics",
        "Features",
        "Notifications",
        "Orders",
    } <= core and "Echo" not in core
    assert labels(frozenset({"echo"})) == core | {"Echo"}


def test_catalogs_are_plain_po_files_with_no_compiled_copies() -> None:
    # .po is the only source; catalogs are compiled in memory at start-up (core.console.i18n).
    assert not list(Path(ROOT).glob("*/locale/**/*.mo"))
    assert not list((ROOT / "plugins").glob("*/locale/**/*.mo"))
