"""``storeplug db upgrade`` / ``db current``: alembic with one version tree for the core and a
branch per plugin that ships tables (``PluginMeta.migrations``), all brought to their heads."""

from __future__ import annotations

import io
import os
from pathlib import Path

from alembic import command
from alembic.config import Config

from core.plugins import PluginRegistry
from core.settings import Settings

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(settings: Settings, registry: PluginRegistry) -> Config:
    locations = [str(MIGRATIONS_DIR / "versions")]
    locations += [meta.migrations for meta in registry.metas.values() if meta.migrations]
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option("version_locations", os.pathsep.join(locations))
    cfg.attributes["settings"] = settings
    cfg.attributes["registry"] = registry
    return cfg


def upgrade(settings: Settings, registry: PluginRegistry, revision: str = "heads") -> None:
    """Migrate as the owner role (``STOREPLUG_MIGRATION_DATABASE_URL``). Blocking: call it
    from a thread when an event loop is running (alembic's env runs its own loop)."""
    command.upgrade(alembic_config(settings, registry), revision)


def current(settings: Settings, registry: PluginRegistry) -> str:
    cfg = alembic_config(settings, registry)
    buffer = io.StringIO()
    cfg.stdout = buffer
    command.current(cfg)
    return buffer.getvalue().strip()
