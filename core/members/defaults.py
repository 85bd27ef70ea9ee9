"""Always-on hookimpls of the members domain (registered as a core module)."""

from __future__ import annotations
