"""The pricing pipeline: load a cart view, validate its lines, price it stage by stage.

The cart page, the checkout preview and placing an order all go through the same three calls::

    view = await build_view(ctx, member_id, lines, fulfillment="express", options={...})
    problems = validate(ctx.hooks, view)  # or let price() run it
    priced = price(ctx.hooks, view)

``build_view`` is the only step that reads the database (the SKUs with their products in one
query, the member with their level, then every enabled plugin's ``load_cart_data``).
``validate`` and ``price`` only call the deciding hooks, which are sync and pure.

The pipeline does not trust plugins with money. Every adjustment is checked (an
``Adjustment`` of the stage being run, an ``int`` amount, a known ``line_key``, a line-stage
adjustment tied to a line, money added only in the fees stage) and a breach raises
``PricingContractError``: a bug in a plugin stops the sale instead of mispricing it. Then,
applied in order, every discount is capped so that neither its line (if it has one) nor the
order total goes below zero; a capped adjustment keeps the plugin's figure in ``requested``.
The total therefore never needs a silent clamp at the end.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Iterable
from typing import Any

import msgspec
from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.cart.schemas import AdjustmentTotal, LineInput, PricedCart, PricedLine
from core.catalog.models import Product, Sku
from core.commerce import (
    STAGES,
    Adjustment,
    CartView,
    FulfillmentOption,
    LineProblem,
    MemberView,
    PricingLine,
)
from core.context import TenantContext
from core.errors import AppError, NotFound
from core.members.models import Member, MemberLevel
from core.plugins import TenantHooks, call_acting

# Whole-cart problems carry this line_key.
CART = ""
# Stages that may only take money off; the fees stage may add it.
DISCOUNT_ONLY = frozenset(STAGES) - {"fees"}
# The HTTP status a problem is refused with (adding to the cart, placing an order); others 422.
PROBLEM_STATUS = {
    "cart.unknown_sku": 404,
    "cart.off_shelf": 409,
    "cart.insufficient_stock": 409,
    "coupon.unavailable": 409,
}


class PricingContractError(RuntimeError):
    """A plugin's deciding hook returned something the pipeline refuses to use."""


def problem_error(problem: LineProblem) -> AppError:
    """The 4xx to refuse a line with, carrying the problem's stable code."""
    return AppError(
        problem.message, code=problem.code, status=PROBLEM_STATUS.get(problem.code, 422)
    )


# ---- loading -----------------------------------------------------------------------------


async def build_view(
    ctx: TenantContext,
    member_id: str,
    lines: list[LineInput],
    *,
    fulfillment: str | None = None,
    fulfillment_data: dict[str, Any] | None = None,
    options: dict[str, Any] | None = None,
) -> CartView:
    """A cart view for ``member_id`` with ``lines``, loaded and ready for the deciding hooks.

    A line whose SKU does not exist for this tenant is left out of ``view.lines`` and becomes
    a ``cart.unknown_sku`` problem in ``view.problems``. Keys must be unique and quantities
    positive (a 400 otherwise).
    """
    keys = [line.key for line in lines]
    if len(set(keys)) != len(keys):
        raise AppError("every line needs a key of its own", code="cart.duplicate_line")
    for line in lines:
        if type(line.quantity) is not int or line.quantity < 1:
            raise AppError("quantity must be a positive integer", code="cart.invalid_quantity")
    member = await load_member(ctx.session, member_id)
    found = await _load_skus(ctx.session, {line.sku_id for line in lines})
    view = CartView(
        tenant_id=ctx.tenant_id,
        member=member,
        lines=[],
        fulfillment=fulfillment,
        fulfillment_data=dict(fulfillment_data or {}),
        options=dict(options or {}),
    )
    for line in lines:
        pair = found.get(line.sku_id)
        if pair is None:
            view.problems.append(
                LineProblem(
                    line_key=line.key, code="cart.unknown_sku", message="this item does not exist"
                )
            )
            continue
        view.lines.append(_pricing_line(line, *pair))
    await call_acting(ctx.hooks.load_cart_data(ctx=ctx, cart=view))
    return view


async def load_member(session: AsyncSession, member_id: str) -> MemberView:
    row = (
        await session.execute(
            select(Member, MemberLevel)
            .outerjoin(
                MemberLevel,
                and_(MemberLevel.tenant_id == Member.tenant_id, MemberLevel.id == Member.level_id),
            )
            .where(Member.id == member_id)
        )
    ).first()
    if row is None:
        raise NotFound("no such member", code="member.not_found")
    member, level = row
    return MemberView(
        id=member.id,
        level_id=level.id if level is not None else None,
        level_name=level.name if level is not None else "",
        level_discount_percent=min(max(level.discount_percent, 0), 100) if level else 0,
        total_paid=member.total_paid,
        tags=list(member.tags or []),
    )


async def _load_skus(session: AsyncSession, sku_ids: set[str]) -> dict[str, tuple[Sku, Product]]:
    if not sku_ids:
        return {}
    rows = await session.execute(
        select(Sku, Product)
        .join(Product, and_(Product.tenant_id == Sku.tenant_id, Product.id == Sku.product_id))
        .where(Sku.id.in_(sku_ids))
    )
    return {sku.id: (sku, product) for sku, product in rows}


def _pricing_line(line: LineInput, sku: Sku, product: Product) -> PricingLine:
    specs = sku.specs if isinstance(sku.specs, dict) else {}
    return PricingLine(
        key=line.key,
        sku_id=sku.id,
        product_id=product.id,
        category_id=product.category_id,
        title=product.title,
        # Keys sorted: PostgreSQL's JSONB keeps no key order, and both backends must agree.
        sku_label=" / ".join(str(specs[name]) for name in sorted(specs)),
        image=product.images[0] if product.images else "",
        unit_price=sku.price,
        quantity=line.quantity,
        activity=line.activity,
        on_shelf=product.status == "on" and sku.active,
        sellable=max(sku.stock - sku.safety_stock, 0),
    )


def subset(view: CartView, keys: Collection[str]) -> CartView:
    """The same loaded view narrowed to the lines in ``keys`` (the selected lines of a cart),
    unpriced; ``load_cart_data`` is not run again."""
    return dataclasses.replace(
        view,
        lines=[line for line in view.lines if line.key in keys],
        plugin_data=dict(view.plugin_data),
        adjustments=[],
        problems=[p for p in view.problems if p.line_key in keys],
        fulfillment_options=[],
    )


# ---- deciding ----------------------------------------------------------------------------


def _answers(results: Any, hook: str) -> Iterable[Any]:
    for batch in results:
        if not isinstance(batch, list | tuple):
            raise PricingContractError(f"{hook} must return a list, got {batch!r}")
        yield from batch


def validate(ctx_hooks: TenantHooks, view: CartView) -> list[LineProblem]:
    """The load-time problems plus every ``validate_cart_line`` answer, line by line."""
    problems = list(view.problems)
    for line in view.lines:
        for problem in _answers(
            ctx_hooks.validate_cart_line(cart=view, line=line), "validate_cart_line"
        ):
            if not isinstance(problem, LineProblem):
                raise PricingContractError(f"validate_cart_line returned {problem!r}")
            problems.append(problem)
    return problems


def _checked(adjustment: Any, stage: str, keys: set[str]) -> Adjustment:
    def refuse(why: str) -> PricingContractError:
        return PricingContractError(f"price_adjustments ({stage}): {why}: {adjustment!r}")

    if not isinstance(adjustment, Adjustment):
        raise refuse("not an Adjustment")
    if type(adjustment.amount) is not int:
        raise refuse("the amount must be an int of fen")
    if adjustment.stage != stage:
        raise refuse("the adjustment names another stage")
    if not isinstance(adjustment.source, str) or not adjustment.source:
        raise refuse("the adjustment has no source")
    if not isinstance(adjustment.label, str):
        raise refuse("the label must be a string")
    if adjustment.line_key is not None and adjustment.line_key not in keys:
        raise refuse("line_key names no line of this cart")
    if stage == "line" and adjustment.line_key is None:
        raise refuse("a line-stage adjustment must name its line")
    if stage in DISCOUNT_ONLY and adjustment.amount > 0:
        raise refuse("only the fees stage may add money")
    return adjustment


def _capped(adjustment: Adjustment, running: int, line_totals: dict[str, int]) -> Adjustment:
    """A discount takes at most what is left of its line and of the order."""
    if adjustment.amount >= 0:
        return adjustment
    room = running
    if adjustment.line_key is not None:
        room = min(room, line_totals[adjustment.line_key])
    room = max(room, 0)
    if -adjustment.amount <= room:
        return adjustment
    return msgspec.structs.replace(adjustment, amount=-room, requested=adjustment.amount)


def _offer(ctx_hooks: TenantHooks, view: CartView) -> list[FulfillmentOption]:
    """The options, one per method: the first answer wins, and plugins answer before the
    core modules, so a plugin may replace the core's ``express`` (a shipping-rules plugin)."""
    offered: dict[str, FulfillmentOption] = {}
    for option in _answers(ctx_hooks.fulfillment_options(cart=view), "fulfillment_options"):
        if not isinstance(option, FulfillmentOption):
            raise PricingContractError(f"fulfillment_options returned {option!r}")
        if type(option.fee) is not int or option.fee < 0:
            raise PricingContractError(f"a fulfillment fee is a non-negative int: {option!r}")
        offered.setdefault(option.method, option)
    return list(offered.values())


def _fulfillment_problem(view: CartView) -> LineProblem | None:
    if view.fulfillment is None:
        return None
    chosen = view.chosen_option()
    if chosen is not None and chosen.available:
        return None
    reason = chosen.reason if chosen is not None and chosen.reason else ""
    return LineProblem(
        line_key=CART,
        code="cart.fulfillment_unavailable",
        message=reason or f"{view.fulfillment!r} is not available for this cart",
    )


def price(ctx_hooks: TenantHooks, view: CartView) -> PricedCart:
    """Price and validate ``view``: the stages in order, each stage's adjustments appended to
    ``view.adjustments`` before the next stage is asked; the fulfillment options are asked
    after the points stage and before the fees stage. Pricing a view again starts afresh.
    The lines are validated once priced, so a check may read the prices (a chosen coupon's
    minimum spend)."""
    view.adjustments.clear()
    view.fulfillment_options = []
    keys = {line.key for line in view.lines}
    line_totals = {line.key: line.base_total for line in view.lines}
    running = view.items_total
    for stage in STAGES:
        if stage == "fees":
            view.fulfillment_options = _offer(ctx_hooks, view)
        answers = list(
            _answers(ctx_hooks.price_adjustments(stage=stage, cart=view), "price_adjustments")
        )
        for answer in answers:
            applied = _capped(_checked(answer, stage, keys), running, line_totals)
            view.adjustments.append(applied)
            running += applied.amount
            if applied.line_key is not None:
                line_totals[applied.line_key] += applied.amount
    problems = validate(ctx_hooks, view)
    fulfillment_problem = _fulfillment_problem(view)
    if fulfillment_problem is not None:
        problems.append(fulfillment_problem)
    return _priced(view, problems)


def _priced(view: CartView, problems: list[LineProblem]) -> PricedCart:
    adjustments = list(view.adjustments)
    discount_total = -sum(a.amount for a in adjustments if a.amount < 0)
    fees_total = sum(a.amount for a in adjustments if a.amount > 0)
    lines = []
    for line in view.lines:
        own = [a for a in adjustments if a.line_key == line.key]
        lines.append(
            PricedLine(
                key=line.key,
                sku_id=line.sku_id,
                product_id=line.product_id,
                title=line.title,
                sku_label=line.sku_label,
                image=line.image,
                unit_price=line.unit_price,
                quantity=line.quantity,
                activity=line.activity,
                base_total=line.base_total,
                line_stage_total=line.base_total + sum(a.amount for a in own if a.stage == "line"),
                total=line.base_total + sum(a.amount for a in own),
                adjustments=own,
                problems=[p for p in problems if p.line_key == line.key],
            )
        )
    return PricedCart(
        lines=lines,
        adjustments=adjustments,
        breakdown=_breakdown(adjustments),
        fulfillment=view.fulfillment,
        fulfillment_options=list(view.fulfillment_options),
        problems=problems,
        quantity=sum(line.quantity for line in view.lines),
        items_total=view.items_total,
        discount_total=discount_total,
        fees_total=fees_total,
        shipping_fee=sum(a.amount for a in adjustments if a.source == "core.shipping"),
        # Discounts are capped as they are applied, so this max() never bites; it stays as
        # the last guard of the rule "a total is never negative".
        payable=max(0, view.items_total - discount_total + fees_total),
        ok=not problems,
    )


def _breakdown(adjustments: list[Adjustment]) -> list[AdjustmentTotal]:
    totals: dict[tuple[str, str, str], AdjustmentTotal] = {}
    for a in adjustments:
        key = (a.stage, a.source, a.label)
        earlier = totals[key].amount if key in totals else 0
        totals[key] = AdjustmentTotal(
            stage=a.stage, source=a.source, label=a.label, amount=earlier + a.amount
        )
    return list(totals.values())
