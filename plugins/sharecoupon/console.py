"""The share coupon's console pages: the campaigns, a campaign's figures with a chart of its
days, its packs, and the form that creates or replaces one. Thin controllers over
``service``: the form is turned into the API's ``CampaignIn`` and every rule is the
service's."""

from __future__ import annotations

from datetime import datetime, time
from typing import Any

from litestar import Response, get, post
from litestar.params import FromPath
from sqlalchemy import select

from core.api import AnyRequest, Ctx
from core.auth import require_staff
from core.console.charts import bar_chart
from core.console.forms import Form, read_form
from core.console.i18n import N_
from core.console.schemas import NavItem
from core.console.web import page, redirect
from core.context import TenantContext, TenantInfo
from core.coupons.models import CouponTemplate
from core.coupons.service import template_label
from core.errors import AppError, FieldError
from core.paging import DEFAULT_LIMIT
from plugins.sharecoupon import errors, service
from plugins.sharecoupon import schemas as s
from plugins.sharecoupon.rules import CST

CampaignId = FromPath[str]
# The words of the states the pages show through ``|t``.
STATE_WORDS = (
    N_("upcoming"),
    N_("running"),
    N_("spent"),
    N_("ended"),
    N_("active"),
    N_("empty"),
    N_("expired"),
    N_("void"),
    N_("pending"),
    N_("granted"),
    N_("cancelled"),
)
ERROR_TEXTS = {
    "sharecoupon.campaign_stopped": N_("A stopped campaign cannot be changed."),
    "sharecoupon.campaign_not_found": N_("No such campaign."),
}


def nav(tenant: TenantInfo) -> list[NavItem]:
    return [
        NavItem(label=N_("Share coupons"), path="sharecoupon", role="clerk", section="marketing")
    ]


def to_campaign(data: s.CampaignForm, starts_at: datetime | None = None) -> s.CampaignIn:
    reward = None
    if data.reward_kind != "none":
        reward = s.RewardIn(
            kind=data.reward_kind,
            when=data.reward_when,
            claims=data.reward_claims,
            template_id=data.reward_template_id,
            points=data.reward_points,
        )
    ends_at = None
    if data.ends_on is not None:
        ends_at = datetime.combine(datetime.fromisoformat(data.ends_on).date(), time(), CST)
    fields = {f: getattr(data, f) for f in s.CampaignIn.__struct_fields__ if hasattr(data, f)}
    return s.CampaignIn(**{**fields, "reward": reward, "starts_at": starts_at, "ends_at": ends_at})


def form_values(campaign: s.CampaignOut) -> dict[str, Any]:
    """What the form shows for an existing campaign."""
    reward = campaign.reward
    return {
        **{
            name: getattr(campaign, name)
            for name in s.CampaignForm.__struct_fields__
            if hasattr(campaign, name)
        },
        "product_ids": "\n".join(campaign.product_ids),
        "category_ids": "\n".join(campaign.category_ids),
        "reward_kind": reward.kind if reward else "none",
        "reward_when": reward.when if reward else "claims",
        "reward_claims": reward.claims if reward and reward.claims else 1,
        "reward_template_id": reward.template_id if reward else None,
        "reward_points": reward.points if reward else 0,
        "ends_on": campaign.ends_at.astimezone(CST).date().isoformat()
        if campaign.ends_at
        else None,
    }


def _refusal(exc: AppError) -> AppError:
    """The service's refusal with its fields named as the form names them."""
    moved = [
        FieldError(
            field=e.field.replace("reward.", "reward_").replace("ends_at", "ends_on"),
            message=e.message,
        )
        for e in exc.errors
    ]
    return AppError(exc.detail, code=exc.code, status=exc.status, errors=moved)


async def _templates(ctx: TenantContext) -> list[tuple[str, str]]:
    """The store's active coupon templates for the form's selects: (id, "name · label")."""
    rows = await ctx.session.scalars(
        select(CouponTemplate)
        .where(CouponTemplate.status == "active")
        .order_by(CouponTemplate.id.desc())
        .limit(200)
    )
    return [(t.id, f"{t.name} · {template_label(t)}") for t in rows.all()]


async def _form_page(
    request: AnyRequest,
    ctx: TenantContext,
    form: Form[s.CampaignForm],
    campaign: s.CampaignOut | None,
    status: int = 200,
) -> Response[str]:
    return page(
        request,
        "sharecoupon/form.html",
        status=status,
        form=form,
        campaign=campaign,
        templates=await _templates(ctx),
    )


@get("/sharecoupon", include_in_schema=False)
async def campaigns_page(request: AnyRequest, ctx: Ctx) -> Response[str]:
    require_staff(ctx, "clerk")
    campaigns = await service.list_campaigns(ctx, 100, None, None)
    return page(request, "sharecoupon/campaigns.html", campaigns=campaigns.items)


@get("/sharecoupon/new", include_in_schema=False)
async def new_page(request: AnyRequest, ctx: Ctx) -> Response[str]:
    require_staff(ctx, "manager")
    form: Form[s.CampaignForm] = Form(
        values={"pack_size": 5, "pack_valid_hours": 24, "one_per_campaign": True}
    )
    return await _form_page(request, ctx, form, None)


@post("/sharecoupon/new", include_in_schema=False)
async def create(request: AnyRequest, ctx: Ctx) -> Response[Any]:
    require_staff(ctx, "manager")
    form = await read_form(request, s.CampaignForm)
    if form.ok and form.data is not None:
        try:
            async with ctx.savepoint():
                made = await service.create(ctx, to_campaign(form.data))
        except AppError as exc:
            form.fail(_refusal(exc), texts=ERROR_TEXTS)
        else:
            return redirect(request, f"sharecoupon/{made.id}")
    return await _form_page(request, ctx, form, None, status=422)


async def _detail(
    request: AnyRequest,
    ctx: TenantContext,
    campaign_id: str,
    form: Form[s.CampaignForm] | None,
    status: int = 200,
) -> Response[str]:
    campaign = await service.detail(ctx, campaign_id)
    stats = await service.stats(ctx, campaign.id)
    packs = await service.list_packs(ctx, campaign.id, DEFAULT_LIMIT, None)
    chart = bar_chart(
        [
            (d.day.strftime("%m-%d"), d.claims, f"{d.day.isoformat()} {d.claims}")
            for d in stats.days[-30:]
        ]
    )
    if form is None:
        form = Form(values=form_values(campaign))
    return page(
        request,
        "sharecoupon/campaign.html",
        status=status,
        campaign=campaign,
        stats=stats,
        chart=chart,
        packs=packs.items,
        form=form,
        templates=await _templates(ctx),
    )


@get("/sharecoupon/{campaign_id:str}", include_in_schema=False)
async def campaign_page(request: AnyRequest, ctx: Ctx, campaign_id: CampaignId) -> Response[str]:
    require_staff(ctx, "clerk")
    return await _detail(request, ctx, campaign_id, None)


@post("/sharecoupon/{campaign_id:str}", include_in_schema=False)
async def replace(request: AnyRequest, ctx: Ctx, campaign_id: CampaignId) -> Response[Any]:
    require_staff(ctx, "manager")
    form = await read_form(request, s.CampaignForm)
    if form.ok and form.data is not None:
        try:
            async with ctx.savepoint():
                current = await service.detail(ctx, campaign_id)
                await service.replace(ctx, campaign_id, to_campaign(form.data, current.starts_at))
        except AppError as exc:
            if exc.code == errors.campaign_not_found().code:
                raise
            form.fail(_refusal(exc), texts=ERROR_TEXTS)
        else:
            return redirect(request, f"sharecoupon/{campaign_id}")
    return await _detail(request, ctx, campaign_id, form, status=422)


@post("/sharecoupon/{campaign_id:str}/stop", include_in_schema=False)
async def stop(request: AnyRequest, ctx: Ctx, campaign_id: CampaignId) -> Response[Any]:
    require_staff(ctx, "manager")
    await service.stop(ctx, campaign_id)
    return redirect(request, f"sharecoupon/{campaign_id}")


CONSOLE_ROUTES: list[Any] = [campaigns_page, new_page, create, campaign_page, replace, stop]
