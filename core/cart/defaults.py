"""Always-on hookimpls of the cart domain (registered as a core module)."""

from __future__ import annotations
