"""Reading the store's settings; a store that never saved any gets the defaults."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from core.context import TenantContext
from core.store.models import StoreSettings


async def get_settings(ctx: TenantContext) -> StoreSettings:
    """The tenant's settings row, created with the defaults on first use."""
    return await settings_in(ctx.session, ctx.tenant_id)


async def settings_in(session: AsyncSession, tenant_id: str) -> StoreSettings:
    row = await session.get(StoreSettings, tenant_id)
    if row is None:
        row = StoreSettings(tenant_id=tenant_id)
        session.add(row)
        await session.flush()
    return row
