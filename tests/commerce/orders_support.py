"""Shared helpers of the order tests: shops, SKUs, addresses, orders placed over HTTP or
inserted directly, and a recorder of the order hooks."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import func, select, update

from core.cart.models import CartLine
from core.catalog.models import Sku
from core.context import TenantContext
from core.db import utcnow
from core.errors import AppError
from core.hookspecs import hookimpl
from core.inventory import service as inventory
from core.inventory.models import StockMovement
from core.orders.models import Order, OrderLine
from core.runtime import Runtime
from core.store.models import StoreSettings
from storeplug.testing import Merchant, Shopper, make_member, onboard

# The test kit's (storeplug.testing.commerce), shared with plugin authors.
from storeplug.testing.commerce import direct as direct
from storeplug.testing.commerce import make_address as make_address
from storeplug.testing.commerce import make_sku as make_sku
from storeplug.testing.commerce import place as place

# ---- shared helpers ----------------------------------------------------------------------


@dataclass(eq=False)  # registered as a plugin: pluggy keeps plugins in sets
class HookRecorder:
    """A hookimpl object that records every order hook it hears: (hook, tenant, order id)."""

    calls: list[tuple[str, str, str]] = field(default_factory=list)
    reasons: dict[str, str] = field(default_factory=dict)
    refuse_placing: bool = False  # order_before_place refuses, as a plugin may

    def of(self, tenant_id: str, order_id: str) -> list[str]:
        return [h for h, t, o in self.calls if t == tenant_id and o == order_id]

    @hookimpl
    async def order_before_place(self, ctx: TenantContext, cart: Any, order: Order) -> None:
        assert cart.lines, "the cart view is passed along"
        self.calls.append(("order_before_place", ctx.tenant_id, order.id))
        if self.refuse_placing:
            raise AppError("the team is full", code="test.team_full", status=409)

    @hookimpl
    async def order_placed(self, ctx: TenantContext, order: Order) -> None:
        self.calls.append(("order_placed", ctx.tenant_id, order.id))

    @hookimpl
    async def order_paid(self, ctx: TenantContext, order: Order) -> None:
        self.calls.append(("order_paid", ctx.tenant_id, order.id))

    @hookimpl
    async def order_released(self, ctx: TenantContext, order: Order) -> None:
        assert order.status == "paid" and order.fulfillment_hold == ""
        self.calls.append(("order_released", ctx.tenant_id, order.id))

    @hookimpl
    async def order_cancelled(self, ctx: TenantContext, order: Order, reason: str) -> None:
        self.calls.append(("order_cancelled", ctx.tenant_id, order.id))
        self.reasons[order.id] = reason

    @hookimpl
    async def order_fulfilled(self, ctx: TenantContext, order: Order) -> None:
        self.calls.append(("order_fulfilled", ctx.tenant_id, order.id))

    @hookimpl
    async def order_completed(self, ctx: TenantContext, order: Order) -> None:
        self.calls.append(("order_completed", ctx.tenant_id, order.id))

    @hookimpl
    async def order_refunded(self, ctx: TenantContext, order: Order) -> None:
        self.calls.append(("order_refunded", ctx.tenant_id, order.id))


@dataclass
class Shop:
    merchant: Merchant
    buyer: Shopper


async def new_shop(client: httpx.AsyncClient, rt: Runtime) -> Shop:
    merchant = await onboard(client)
    return Shop(merchant=merchant, buyer=await make_member(rt, merchant))


async def set_store(rt: Runtime, merchant: Merchant, **values: Any) -> None:
    async with rt.db.tenant_session(merchant.id) as session:
        row = await session.get(StoreSettings, merchant.id)
        if row is None:
            session.add(StoreSettings(tenant_id=merchant.id, **values))
        else:
            for name, value in values.items():
                setattr(row, name, value)


async def stock_of(rt: Runtime, merchant: Merchant, sku_id: str) -> int:
    async with rt.db.tenant_session(merchant.id) as session:
        stock = await session.scalar(select(Sku.stock).where(Sku.id == sku_id))
    assert stock is not None
    return stock


async def movements(rt: Runtime, merchant: Merchant, sku_id: str, reason: str) -> int:
    async with rt.db.tenant_session(merchant.id) as session:
        count = await session.scalar(
            select(func.count())
            .select_from(StockMovement)
            .where(StockMovement.sku_id == sku_id, StockMovement.reason == reason)
        )
    return count or 0


async def order_row(rt: Runtime, merchant: Merchant, order_id: str) -> Order:
    async with rt.db.tenant_session(merchant.id) as session:
        order = await session.get(Order, (merchant.id, order_id))
    assert order is not None
    return order


async def insert_order(
    rt: Runtime,
    merchant: Merchant,
    member_id: str,
    sku: Sku,
    *,
    status: str = "pending_payment",
    quantity: int = 1,
    fulfillment: str = "express",
    created_at: Any = None,
) -> str:
    """An order written straight to the database with its stock reserved, in any state (the
    state-machine tests start from every state)."""
    tenant = await rt.tenants.resolve(merchant.slug)
    now = created_at or utcnow()
    async with rt.tenant_context(tenant) as ctx:
        order = Order(
            number=f"T{secrets.randbelow(10**18):018d}",
            member_id=member_id,
            status=status,
            items_total=sku.price * quantity,
            payable=sku.price * quantity,
            paid_amount=0 if status in ("pending_payment", "cancelled") else sku.price * quantity,
            fulfillment=fulfillment,
            payment_deadline=now + timedelta(minutes=15),
            shipped_at=now if status in ("shipped", "completed") else None,
            created_at=now,
        )
        ctx.session.add(order)
        await ctx.session.flush()
        ctx.session.add(
            OrderLine(
                order_id=order.id,
                sku_id=sku.id,
                product_id=sku.product_id,
                title="纯棉T恤",
                unit_price=sku.price,
                quantity=quantity,
                line_total=sku.price * quantity,
            )
        )
        await inventory.reserve(ctx, sku.id, quantity, ref=order.id)
        return order.id


async def hold_order(rt: Runtime, merchant: Merchant, order_id: str, holder: str) -> None:
    """Hold an order back from fulfillment as a plugin would (``Order.fulfillment_hold``)."""
    async with rt.db.tenant_session(merchant.id) as session:
        await session.execute(
            update(Order).where(Order.id == order_id).values(fulfillment_hold=holder)
        )


async def add_to_cart(
    rt: Runtime, merchant: Merchant, member_id: str, sku: Sku, quantity: int, selected: bool = True
) -> str:
    async with rt.db.tenant_session(merchant.id) as session:
        line = CartLine(member_id=member_id, sku_id=sku.id, quantity=quantity, selected=selected)
        session.add(line)
        await session.flush()
        return line.id


async def cart_line_ids(rt: Runtime, merchant: Merchant, member_id: str) -> set[str]:
    async with rt.db.tenant_session(merchant.id) as session:
        rows = await session.scalars(select(CartLine.id).where(CartLine.member_id == member_id))
        return set(rows.all())


async def count_orders(rt: Runtime, merchant: Merchant) -> int:
    async with rt.db.tenant_session(merchant.id) as session:
        return await session.scalar(select(func.count()).select_from(Order)) or 0
