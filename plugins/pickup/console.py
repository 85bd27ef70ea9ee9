"""The pickup console pages: the store's pickup points, and the counter's verification page
a clerk uses on a phone (type the code, or let a scanner type the QR into the same box).
Thin controllers over ``codes.verify``: the lockout and every other rule are its own."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Response, get, post
from litestar.params import FromPath

from core.api import AnyRequest, Ctx, runtime_of
from core.auth import require_staff
from core.console.forms import Form, read_form
from core.console.i18n import N_
from core.console.schemas import NavItem
from core.console.web import page
from core.context import TenantContext, TenantInfo
from core.errors import AppError
from plugins.pickup import codes, errors, service
from plugins.pickup import schemas as s
from plugins.pickup.api import guards_of

PointId = FromPath[str]
STATE_WORDS = (N_("active"), N_("inactive"))
ERROR_TEXTS = {
    "pickup.code_invalid": N_(
        "This code is not valid here: unknown, already used or of another point."
    ),
    "pickup.code_required": N_("Type the code or scan the QR."),
    "pickup.not_point_staff": N_("You are not on this point's staff, so you cannot verify here."),
    "pickup.locked": N_("Too many wrong codes: verification is locked for 15 minutes."),
}


class VerifyForm(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    # What the clerk typed, or what a scanner typed from the member's QR.
    code: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


def nav(tenant: TenantInfo) -> list[NavItem]:
    return [NavItem(label=N_("Pickup"), path="pickup", role="clerk", section="service")]


def to_verify(typed: str) -> s.VerifyIn:
    """A scanned QR payload (``SPK1.…``) or a typed code, spaces dropped."""
    text = "".join(typed.split())
    if text.startswith(codes.QR_PREFIX + "."):
        return s.VerifyIn(qr=text)
    return s.VerifyIn(code=text)


@get("/pickup", include_in_schema=False)
async def points_page(request: AnyRequest, ctx: Ctx) -> Response[str]:
    require_staff(ctx, "clerk")
    points = await service.list_points(ctx, 100, None)
    return page(request, "pickup/points.html", points=points.items)


async def _verify_page(
    request: AnyRequest,
    ctx: TenantContext,
    point_id: str,
    form: Form[VerifyForm],
    done: s.VerificationOut | None = None,
    locked: bool = False,
    status: int = 200,
) -> Response[str]:
    point = service.point_out(await service.get_point(ctx, point_id))
    return page(
        request,
        "pickup/verify.html",
        status=status,
        point=point,
        form=form,
        done=done,
        locked=locked,
    )


@get("/pickup/{point_id:str}/verify", include_in_schema=False)
async def verify_page(request: AnyRequest, ctx: Ctx, point_id: PointId) -> Response[str]:
    require_staff(ctx, "clerk")
    return await _verify_page(request, ctx, point_id, Form(values={}))


@post("/pickup/{point_id:str}/verify", include_in_schema=False)
async def verify(request: AnyRequest, ctx: Ctx, point_id: PointId) -> Response[Any]:
    principal = require_staff(ctx, "clerk")
    form = await read_form(request, VerifyForm)
    status, locked, done = 422, False, None
    if form.ok and form.data is not None:
        rt = runtime_of(request)
        try:
            async with ctx.savepoint():
                done = await codes.verify(
                    ctx,
                    guards_of(rt),
                    rt.settings.secret_key,
                    point_id,
                    principal,
                    to_verify(form.data.code),
                )
        except AppError as exc:
            if exc.code == errors.UNKNOWN_POINT:
                raise
            # A wrong code beside the box the clerk types into again; the lockout above it.
            form.fail(exc, texts=ERROR_TEXTS, beside={"pickup.code_invalid": "code"})
            locked = exc.code == "pickup.locked"
            status = exc.status
        else:
            status, form = 200, Form(values={})
    return await _verify_page(request, ctx, point_id, form, done, locked, status)


CONSOLE_ROUTES: list[Any] = [points_page, verify_page, verify]
