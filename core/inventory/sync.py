"""ERP/POS stock sync: a batch of up to 500 lines, all or nothing.

Every line is checked against the locked rows before anything is written, so a batch with
one bad line (unknown SKU or barcode, a negative absolute, a delta below zero, a SKU named
twice) changes nothing and answers 422 ``inventory.sync_rejected`` with every bad line
named (``lines[3]``). Runs under ``run_idempotent``: a retried batch is never applied twice.

``absolute`` overwrites the stock column, which is the stock still for sale (orders placed
and not yet cancelled have already taken theirs). An ERP that counts goods on the shelf,
unshipped orders included, should send ``delta`` lines instead.
"""

from __future__ import annotations

from sqlalchemy import select, update

from core.auth import require_staff
from core.catalog.models import Sku
from core.context import TenantContext
from core.errors import AppError, FieldError
from core.inventory import schemas as s
from core.inventory.models import StockMovement
from core.inventory.service import MAX_STOCK, lock_stock, write_stock

REF_LENGTH = 80  # StockMovement.ref; keys may be longer (255), the prefix still finds them


class SyncRejected(AppError):
    status = 422
    code = "inventory.sync_rejected"


def _check(
    mode: str, quantity: int, previous: int | None, seen: dict[str, int], sku_id: str | None
) -> str | None:
    """Why this line cannot be applied, or None."""
    if sku_id is None:
        return "no SKU has this barcode"
    if previous is None:
        return "no such SKU"
    if sku_id in seen:
        return f"the same SKU as lines[{seen[sku_id]}]"
    result = quantity if mode == "absolute" else previous + quantity
    if result < 0:
        return "stock cannot be negative" if mode == "absolute" else "stock would go below 0"
    if result > MAX_STOCK:
        return f"stock cannot exceed {MAX_STOCK}"
    return None


async def sync(ctx: TenantContext, data: s.SyncIn, *, ref: str) -> s.SyncOut:
    require_staff(ctx, "manager")
    ref = ref[:REF_LENGTH]
    reason = "erp_set" if data.mode == "absolute" else "erp_delta"
    codes = {line.barcode for line in data.lines if line.barcode is not None}
    by_code: dict[str, str] = {}
    if codes:
        found = await ctx.session.execute(select(Sku.barcode, Sku.id).where(Sku.barcode.in_(codes)))
        by_code = {code: sku_id for code, sku_id in found if code is not None}
    named = [
        line.sku_id if line.sku_id is not None else by_code.get(line.barcode or "")
        for line in data.lines
    ]
    stock = await lock_stock(ctx, [sku_id for sku_id in named if sku_id is not None])

    errors: list[FieldError] = []
    seen: dict[str, int] = {}
    for i, (line, sku_id) in enumerate(zip(data.lines, named, strict=True)):
        if (line.sku_id is None) == (line.barcode is None):
            problem: str | None = "name exactly one of sku_id and barcode"
        else:
            previous = stock.get(sku_id) if sku_id is not None else None
            problem = _check(data.mode, line.quantity, previous, seen, sku_id)
        if problem is not None:
            errors.append(FieldError(field=f"lines[{i}]", message=problem))
        elif sku_id is not None:
            seen[sku_id] = i
    if errors:
        raise SyncRejected(
            f"{len(errors)} of {len(data.lines)} lines cannot be applied; nothing was changed",
            errors=errors,
        )

    results: list[s.SyncLineOut] = []
    for i, (line, sku_id) in enumerate(zip(data.lines, named, strict=True)):
        assert sku_id is not None  # every line passed the checks above
        previous = stock[sku_id]
        if data.mode == "absolute":
            await write_stock(ctx, sku_id, previous, line.quantity, reason=reason, ref=ref)
            after = line.quantity
        else:
            after = await _apply_delta(ctx, sku_id, line.quantity, ref=ref)
        results.append(
            s.SyncLineOut(
                index=i, sku_id=sku_id, barcode=line.barcode, previous=previous, stock=after
            )
        )
    changed = sum(1 for line in results if line.stock != line.previous)
    return s.SyncOut(mode=data.mode, changed=changed, lines=results)


async def _apply_delta(ctx: TenantContext, sku_id: str, delta: int, *, ref: str) -> int:
    """The conditional UPDATE; the row is locked and checked, so it holds, and the condition
    stays as the last wall."""
    balance = await ctx.session.scalar(
        update(Sku)
        .where(Sku.id == sku_id, Sku.stock + delta >= 0)
        .values(stock=Sku.stock + delta)
        .returning(Sku.stock)
        .execution_options(synchronize_session=False)
    )
    if balance is None:
        raise SyncRejected("the stock changed during the sync; nothing was changed")
    if delta:
        ctx.session.add(
            StockMovement(sku_id=sku_id, delta=delta, balance=balance, reason="erp_delta", ref=ref)
        )
    return int(balance)
