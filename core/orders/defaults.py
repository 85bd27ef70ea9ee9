"""Always-on hookimpls of the orders domain (registered as a core module)."""

from __future__ import annotations
