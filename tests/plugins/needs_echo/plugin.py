"""A test plugin that builds on another: it requires ``echo`` (``PluginMeta.requires``), so
it can only be on while echo is, and echo cannot be switched off under it."""

from __future__ import annotations

from core.plugins import PluginMeta

META = PluginMeta(
    name="needs_echo",
    title="Needs echo",
    description="Test plugin that requires the echo plugin.",
    version="1.0.0",
    requires=("echo",),
)
