"""The vendor side's always-on hookimpls: its pages in the merchant console's navigation.
Registered by the composition root (``storeplug.runtime.TENANT_MODULES``)."""

from __future__ import annotations

from core.console.i18n import N_
from core.console.schemas import NavItem
from core.context import TenantInfo
from core.hookspecs import hookimpl


@hookimpl
def console_nav(tenant: TenantInfo) -> list[NavItem]:
    return [
        NavItem(label=N_("Features"), path="features", role="manager", section="settings", order=10)
    ]
