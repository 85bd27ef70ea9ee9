"""The core's own entries in the merchant console's navigation, given through the same hook
plugins use (``console_nav``)."""

from __future__ import annotations

from core.console.i18n import N_
from core.console.schemas import NavItem
from core.context import TenantInfo
from core.hookspecs import hookimpl


@hookimpl
def console_nav(tenant: TenantInfo) -> list[NavItem]:
    return [
        NavItem(label=N_("Dashboard"), path="", role="clerk", section="store", order=0),
        NavItem(label=N_("Orders"), path="orders", role="clerk", section="store", order=10),
        NavItem(label=N_("After-sales"), path="refunds", role="clerk", section="store", order=20),
        NavItem(label=N_("Low stock"), path="stock", role="clerk", section="store", order=30),
    ]
