"""Always-on hookimpls of the coupons engine (registered as the core module
"core.coupons.defaults")."""

from __future__ import annotations
