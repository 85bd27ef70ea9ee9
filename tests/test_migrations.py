"""Migrations: the migrated database matches the models on both backends, and
``storeplug db upgrade`` works as a real command on an empty database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, String

from core.db import Base
from core.migrate import alembic_config
from core.runtime import Runtime
from core.settings import Settings, load_settings
from storeplug.runtime import build_plugins
from storeplug.testing import migration_drift

ROOT = Path(__file__).resolve().parent.parent


async def test_database_matches_models(settings: Settings, rt: Runtime) -> None:
    # ``rt`` built the plugin registry, so the plugins' tables are on Base.metadata too.
    assert "echo_charges" in Base.metadata.tables
    differences = await migration_drift(settings)
    # The comparison really looks: against no models every table is extra, and a changed
    # column type is seen (compare_type is on).
    removed = await migration_drift(settings, MetaData())
    altered = MetaData()
    for table in Base.metadata.tables.values():
        table.to_metadata(altered)
    altered.tables["plans"].c.name.type = String(101)
    modified = await migration_drift(settings, altered)
    # No narrowing was needed: alembic compares UtcDateTime by its impl (DateTime with time
    # zone) and the JSON/JSONB variant by the dialect's type, so both backends come out clean.
    assert differences == [], "migrations and models disagree; autogenerate a revision"
    assert {d[1].name for d in removed if d[0] == "remove_table"} >= set(Base.metadata.tables)
    assert [(m[0][0], m[0][2], m[0][3]) for m in modified] == [("modify_type", "plans", "name")]


def script_heads() -> set[str]:
    """The heads of every version tree: the core's and each installed plugin's branch."""
    settings = load_settings({}, plugin_modules=("tests.plugins.echo.plugin",))
    return set(
        ScriptDirectory.from_config(alembic_config(settings, build_plugins(settings))).get_heads()
    )


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "storeplug.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _env(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STOREPLUG_")}
    env.update(values)
    return env


def test_cli_upgrade_on_an_empty_database(tmp_path: Path) -> None:
    path = tmp_path / "fresh.db"
    env = _env(
        STOREPLUG_DATABASE_URL=f"sqlite+aiosqlite:///{path}",
        STOREPLUG_PLUGIN_MODULES="tests.plugins.echo.plugin",
    )
    before = _cli("db", "current", env=env)
    assert before.returncode == 0, before.stderr
    assert not script_heads() & set(before.stdout.split())

    first = _cli("db", "upgrade", env=env)
    assert first.returncode == 0, first.stderr
    assert path.exists()

    current = _cli("db", "current", env=env)
    assert current.returncode == 0, current.stderr
    lines = [line for line in current.stdout.splitlines() if line.strip()]
    assert {line.split()[0] for line in lines} == script_heads(), current.stdout
    # "(effective head)": the core head a plugin branch depends on is a head all the same.
    assert all(line.endswith(("(head)", "(effective head)")) for line in lines), current.stdout

    again = _cli("db", "upgrade", env=env)
    assert again.returncode == 0, again.stderr
    after = _cli("db", "current", env=env)
    assert sorted(after.stdout.splitlines()) == sorted(current.stdout.splitlines())


def test_cli_refuses_a_wrong_database_url(tmp_path: Path) -> None:
    result = _cli("db", "upgrade", env=_env(STOREPLUG_DATABASE_URL="mysql://x"))
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("storeplug: "), result.stderr
    assert "STOREPLUG_DATABASE_URL" in lines[0]
