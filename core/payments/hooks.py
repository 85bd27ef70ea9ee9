"""Always-on order hookimpls of the payments domain (being built)."""

from __future__ import annotations
