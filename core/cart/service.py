"""The member's cart: lines kept in ``cart_lines``, priced through ``core.cart.pricing``.

Rules:
- A change that adds a line or raises a quantity must leave *that* line without problems
  (stock, shelf, limits, plugin eligibility), else it is refused with the problem's code and
  nothing is saved. Lowering a quantity, (de)selecting and removing are always allowed; the
  cart shows the problems that remain.
- Adding a SKU already in the cart under the same activity adds to that line (one atomic
  upsert, so two quick taps cannot race into a unique violation).
- ``activity`` is "" or ``"<plugin>:<reference>"`` naming a plugin enabled for the tenant
  (the core has no activities of its own); anything else is 422 ``cart.unknown_activity``.
  Whether the reference is valid is the plugin's call, in its ``validate_cart_line``.
- At most ``MAX_CART_LINES`` lines per cart (422 ``cart.full``).
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import Select, and_, delete, func, not_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from core.cart import pricing
from core.cart import schemas as s
from core.cart.models import CartLine
from core.catalog.models import Sku
from core.commerce import CartView, LineProblem
from core.context import TenantContext, TenantInfo
from core.db import new_id, utcnow
from core.errors import AppError, NotFound


def line_not_found() -> NotFound:
    return NotFound("no such line in your cart", code="cart.line_not_found")


def _lines_of(member_id: str) -> Select[CartLine]:
    # Newest first; ids are time-ordered ULIDs.
    return select(CartLine).where(CartLine.member_id == member_id).order_by(CartLine.id.desc())


async def cart_lines(ctx: TenantContext, member_id: str) -> list[CartLine]:
    rows = await ctx.session.scalars(_lines_of(member_id).execution_options(populate_existing=True))
    return list(rows.all())


def inputs_of(rows: Collection[CartLine]) -> list[s.LineInput]:
    """Cart lines as pricing input; each line's key is its id."""
    return [
        s.LineInput(key=row.id, sku_id=row.sku_id, quantity=row.quantity, activity=row.activity)
        for row in rows
    ]


async def lines_for_checkout(
    ctx: TenantContext, member_id: str, line_ids: list[str] | None
) -> list[CartLine]:
    """The lines to check out: those named (404 if one is not this member's) or else the
    selected ones; 422 ``cart.empty`` when there are none. For preview and placing orders."""
    rows = await cart_lines(ctx, member_id)
    if line_ids is None:
        chosen = [row for row in rows if row.selected]
    else:
        wanted = set(line_ids)
        chosen = [row for row in rows if row.id in wanted]
        if len(chosen) != len(wanted):
            raise line_not_found()
    if not chosen:
        raise AppError("there is nothing to check out", code="cart.empty", status=422)
    return chosen


async def remove_lines(ctx: TenantContext, member_id: str, line_ids: Collection[str]) -> None:
    """Drop lines (those just ordered, for instance)."""
    if line_ids:
        await ctx.session.execute(
            delete(CartLine).where(CartLine.member_id == member_id, CartLine.id.in_(line_ids))
        )


# ---- reading -----------------------------------------------------------------------------


async def _loaded(ctx: TenantContext, member_id: str) -> tuple[list[CartLine], CartView]:
    rows = await cart_lines(ctx, member_id)
    return rows, await pricing.build_view(ctx, member_id, inputs_of(rows))


def _cart_out(ctx: TenantContext, rows: list[CartLine], view: CartView) -> s.CartOut:
    problems = pricing.validate(ctx.hooks, view)
    selected = {row.id for row in rows if row.selected}
    priced = pricing.price(ctx.hooks, pricing.subset(view, selected))
    by_key = {line.key: line for line in view.lines}
    lines = []
    for row in rows:
        line = by_key.get(row.id)
        lines.append(
            s.CartLineOut(
                id=row.id,
                sku_id=row.sku_id,
                product_id=line.product_id if line else "",
                title=line.title if line else "",
                sku_label=line.sku_label if line else "",
                image=line.image if line else "",
                unit_price=line.unit_price if line else 0,
                quantity=row.quantity,
                activity=row.activity,
                selected=row.selected,
                sellable=line.sellable if line else 0,
                on_shelf=line.on_shelf if line else False,
                problems=[p for p in problems if p.line_key == row.id],
                added_at=row.added_at,
            )
        )
    return s.CartOut(lines=lines, problems=problems, selected=priced)


async def get_cart(ctx: TenantContext, member_id: str) -> s.CartOut:
    rows, view = await _loaded(ctx, member_id)
    return _cart_out(ctx, rows, view)


async def preview(ctx: TenantContext, member_id: str, data: s.PreviewIn) -> s.PricedCart:
    rows = await lines_for_checkout(ctx, member_id, data.line_ids)
    view = await pricing.build_view(
        ctx,
        member_id,
        inputs_of(rows),
        fulfillment=data.fulfillment,
        fulfillment_data=data.fulfillment_data,
        options=data.options,
    )
    return pricing.price(ctx.hooks, view)


# ---- changing ----------------------------------------------------------------------------


def check_activity(tenant: TenantInfo, activity: str) -> None:
    if not activity:
        return
    plugin, sep, reference = activity.partition(":")
    if not sep or not reference.strip() or plugin not in tenant.enabled_plugins:
        raise AppError(
            f"no enabled offer answers to {activity!r}", code="cart.unknown_activity", status=422
        )


def _refuse(problems: list[LineProblem], key: str) -> None:
    for problem in problems:
        if problem.line_key == key:
            raise pricing.problem_error(problem)


async def _upsert(ctx: TenantContext, member_id: str, data: s.LineAdd) -> str:
    dialect = (await ctx.session.connection()).dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(CartLine).values(
        tenant_id=ctx.tenant_id,
        id=new_id(),
        member_id=member_id,
        sku_id=data.sku_id,
        activity=data.activity,
        quantity=data.quantity,
        selected=True,
        added_at=utcnow(),
    )
    statement = statement.on_conflict_do_update(
        index_elements=["tenant_id", "member_id", "sku_id", "activity"],
        set_={"quantity": CartLine.quantity + statement.excluded.quantity, "selected": True},
    )
    line_id = await ctx.session.scalar(statement.returning(CartLine.id))
    assert line_id is not None
    return str(line_id)


async def add_line(ctx: TenantContext, member_id: str, data: s.LineAdd) -> s.CartOut:
    check_activity(ctx.tenant, data.activity)
    if await ctx.session.scalar(select(Sku.id).where(Sku.id == data.sku_id)) is None:
        raise NotFound("this item does not exist", code="cart.unknown_sku")
    others = await ctx.session.scalar(
        select(func.count())
        .select_from(CartLine)
        .where(
            CartLine.member_id == member_id,
            not_(and_(CartLine.sku_id == data.sku_id, CartLine.activity == data.activity)),
        )
    )
    if (others or 0) >= s.MAX_CART_LINES:
        raise AppError(
            f"a cart holds at most {s.MAX_CART_LINES} lines", code="cart.full", status=422
        )
    line_id = await _upsert(ctx, member_id, data)
    rows, view = await _loaded(ctx, member_id)
    _refuse(pricing.validate(ctx.hooks, view), line_id)  # raising rolls the upsert back
    return _cart_out(ctx, rows, view)


async def _own_line(ctx: TenantContext, member_id: str, line_id: str) -> CartLine:
    row = await ctx.session.scalar(
        select(CartLine).where(CartLine.id == line_id, CartLine.member_id == member_id)
    )
    if row is None:
        raise line_not_found()
    return row


async def update_line(
    ctx: TenantContext, member_id: str, line_id: str, data: s.LinePatch
) -> s.CartOut:
    row = await _own_line(ctx, member_id, line_id)
    raised = data.quantity is not None and data.quantity > row.quantity
    if data.quantity is not None:
        row.quantity = data.quantity
    if data.selected is not None:
        row.selected = data.selected
    await ctx.session.flush()
    rows, view = await _loaded(ctx, member_id)
    if raised:
        _refuse(pricing.validate(ctx.hooks, view), line_id)
    return _cart_out(ctx, rows, view)


async def delete_line(ctx: TenantContext, member_id: str, line_id: str) -> s.CartOut:
    removed = await ctx.session.scalar(
        delete(CartLine)
        .where(CartLine.id == line_id, CartLine.member_id == member_id)
        .returning(CartLine.id)
    )
    if removed is None:
        raise line_not_found()
    return await get_cart(ctx, member_id)


async def select_lines(ctx: TenantContext, member_id: str, data: s.SelectIn) -> s.CartOut:
    statement = update(CartLine).where(CartLine.member_id == member_id)
    if data.line_ids is not None:
        statement = statement.where(CartLine.id.in_(data.line_ids))
    changed = (
        await ctx.session.scalars(
            statement.values(selected=data.selected)
            .returning(CartLine.id)
            .execution_options(synchronize_session=False)
        )
    ).all()
    if data.line_ids is not None and len(changed) != len(set(data.line_ids)):
        raise line_not_found()  # rolls back: all named lines or none
    return await get_cart(ctx, member_id)


async def clear(ctx: TenantContext, member_id: str) -> s.CartOut:
    await ctx.session.execute(delete(CartLine).where(CartLine.member_id == member_id))
    return await get_cart(ctx, member_id)
