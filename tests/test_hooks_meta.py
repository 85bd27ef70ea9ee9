"""Every hook is documented and tested (datasette's test_plugin_hooks_are_documented and
test_plugin_hooks_have_tests are the model)."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pluggy
import pytest

from core import hookspecs
from core.plugins import PROJECT

ROOT = Path(__file__).resolve().parent.parent
HOOKS_DOC = ROOT / "docs" / "hooks.md"


def hookspec_names() -> list[str]:
    """Names of the functions in core/hookspecs.py marked with ``@hookspec``."""
    marker = f"{PROJECT}_spec"
    return sorted(
        name
        for name, function in inspect.getmembers(hookspecs, inspect.isfunction)
        if hasattr(function, marker)
    )


HOOKS = hookspec_names()


def documented_hooks() -> set[str]:
    """Hooks named by a ``### hook_name`` heading (backticks and a signature allowed)."""
    text = HOOKS_DOC.read_text(encoding="utf-8")
    return set(re.findall(r"^###\s+`?([a-z_][a-z0-9_]*)", text, flags=re.MULTILINE))


def test_hookspecs_are_found_and_match_the_plugin_manager() -> None:
    pm = pluggy.PluginManager(PROJECT)
    pm.add_hookspecs(hookspecs)
    relay = {name for name in vars(pm.hook) if not name.startswith("_")}
    assert HOOKS, "no hookspecs found in core/hookspecs.py"
    assert set(HOOKS) == relay


@pytest.mark.parametrize("hook", HOOKS)
def test_hookspec_has_a_docstring(hook: str) -> None:
    assert inspect.getdoc(getattr(hookspecs, hook)), f"hookspec {hook} has no docstring"


@pytest.mark.parametrize("hook", HOOKS)
def test_plugin_hook_is_documented(hook: str) -> None:
    assert hook in documented_hooks(), f"docs/hooks.md has no '### {hook}' section"


def test_documented_hooks_exist() -> None:
    stale = documented_hooks() - set(HOOKS)
    assert not stale, f"docs/hooks.md documents hooks that core/hookspecs.py lacks: {stale}"


def _test_sources() -> dict[Path, str]:
    this = Path(__file__).resolve()
    return {
        path: path.read_text(encoding="utf-8")
        for path in sorted((ROOT / "tests").rglob("test_*.py"))
        if path.resolve() != this
    }


@pytest.mark.parametrize("hook", HOOKS)
def test_plugin_hook_has_tests(hook: str) -> None:
    word = re.compile(rf"\b{re.escape(hook)}\b")
    testing = [path for path, text in _test_sources().items() if word.search(text)]
    assert testing, f"no test file under tests/ mentions the hook {hook}"
