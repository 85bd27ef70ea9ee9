"""`storeplug plugins new NAME` writes a plugin package that lints clean for any allowed name,
loads as a plugin and migrates. (CI installs one by its entry point into a fresh environment
and runs its own tests: `.ci/plugin_kit`.)"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from storeplug.scaffold import MAX_NAME_LENGTH, ScaffoldError, new_plugin, storeplug_requirements

RUFF = shutil.which("ruff", path=str(Path(sys.executable).parent))


def storeplug(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "storeplug.cli", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    "name", ["", "Stamp", "1card", "stamp-card", "stamp__card", "card_", "x" * 25]
)
def test_a_bad_name_is_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(ScaffoldError, match="lowercase letters"):
        new_plugin(name, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_a_builtin_name_a_keyword_or_an_existing_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ScaffoldError, match="built-in"):
        new_plugin("points", tmp_path)
    with pytest.raises(ScaffoldError, match="keyword"):
        new_plugin("import", tmp_path)
    new_plugin("stamp_card", tmp_path)
    with pytest.raises(ScaffoldError, match="exists already"):
        new_plugin("stamp_card", tmp_path)


def test_the_package_declares_its_entry_point_and_storeplug_range(tmp_path: Path) -> None:
    target = new_plugin("stamp_card", tmp_path)
    assert target.name == "storeplug-stamp-card"
    pyproject = (target / "pyproject.toml").read_text()
    assert (
        '[project.entry-points."storeplug.plugins"]\nstamp_card = "storeplug_stamp_card.plugin"'
        in (pyproject)
    )
    requirement, testing = storeplug_requirements()
    assert requirement == "storeplug>=0.1.0,<0.2"  # the next minor may break hooks before 1.0
    assert f'dependencies = ["{requirement}"]' in pyproject
    assert f'test = ["{testing}"]' in pyproject
    assert sorted(str(p.relative_to(target)) for p in target.rglob("*") if p.is_file()) == [
        "README.md",
        "babel.cfg",
        "pyproject.toml",
        "storeplug_stamp_card/__init__.py",
        "storeplug_stamp_card/api.py",
        "storeplug_stamp_card/console.py",
        "storeplug_stamp_card/jobs.py",
        "storeplug_stamp_card/locale/zh_CN/LC_MESSAGES/messages.po",
        "storeplug_stamp_card/migrations/versions/stamp_card_0001.py",
        "storeplug_stamp_card/models.py",
        "storeplug_stamp_card/plugin.py",
        "storeplug_stamp_card/schemas.py",
        "storeplug_stamp_card/service.py",
        "storeplug_stamp_card/templates/page.html",
        "tests/conftest.py",
        "tests/test_stamp_card.py",
    ]


@pytest.mark.skipif(RUFF is None, reason="ruff is a dev dependency")
@pytest.mark.parametrize("name", ["x", "stamp_card", "a" * MAX_NAME_LENGTH])
def test_the_package_lints_clean_for_short_and_long_names(tmp_path: Path, name: str) -> None:
    target = new_plugin(name, tmp_path)
    assert RUFF is not None
    # From the package's folder, so its own pyproject decides what is first-party.
    for args in (["check", "--no-cache", "."], ["format", "--check", "--no-cache", "."]):
        result = subprocess.run([RUFF, *args], cwd=target, capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr


def test_the_plugin_loads_and_migrates(tmp_path: Path) -> None:
    target = new_plugin("stamp_card", tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("STOREPLUG_")}
    env.update(
        PYTHONPATH=os.pathsep.join([str(target), str(Path.cwd())]),
        STOREPLUG_PLUGIN_MODULES="storeplug_stamp_card.plugin",
        STOREPLUG_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'kit.db'}",
    )
    listed = storeplug("plugins", "list", env=env, cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert "stamp_card           0.1.0      Stamp Card — Notices" in listed.stdout
    upgraded = storeplug("db", "upgrade", env=env, cwd=tmp_path)
    assert upgraded.returncode == 0, upgraded.stderr
    current = storeplug("db", "current", env=env, cwd=tmp_path)
    assert "stamp_card_0001 (head)" in current.stdout.splitlines(), current.stdout
