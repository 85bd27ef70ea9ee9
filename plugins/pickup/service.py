"""Pickup points: the merchant's side (create, edit, list) and the storefront's (points by
distance, slots with the places left)."""

from __future__ import annotations

from datetime import datetime, timedelta

import msgspec
from sqlalchemy import select

from core.context import TenantContext, TenantInfo
from core.db import utcnow
from core.errors import FieldError, Invalid
from core.members.models import Member
from core.paging import Page, page_of, paged
from plugins.pickup import errors
from plugins.pickup import schemas as s
from plugins.pickup.models import PickupPoint, PickupSlot
from plugins.pickup.slots import distance_m, upcoming_slots
from tenants.models import StaffUser

PLUGIN = "pickup"


def settings_of(tenant: TenantInfo) -> s.PickupSettings:
    return msgspec.convert(tenant.plugin_configs.get(PLUGIN) or {}, s.PickupSettings)


def booking_days_of(settings: s.PickupSettings, point: PickupPoint) -> int:
    """Days of slots bookable at ``point``: its own window, else the plugin's."""
    return point.booking_days or settings.booking_days


def point_out(point: PickupPoint) -> s.PointOut:
    return s.PointOut(
        id=point.id,
        name=point.name,
        address=point.address,
        phone=point.phone,
        latitude=point.latitude,
        longitude=point.longitude,
        hours=list(point.hours),
        holidays=list(point.holidays),
        slot_minutes=point.slot_minutes,
        capacity=point.capacity,
        status=point.status,
        staff_ids=list(point.staff_ids),
        verifier_member_ids=list(point.verifier_member_ids),
        booking_days=point.booking_days,
        created_at=point.created_at,
    )


def store_point(point: PickupPoint, distance: int | None = None) -> s.StorePoint:
    return s.StorePoint(
        id=point.id,
        name=point.name,
        address=point.address,
        phone=point.phone,
        latitude=point.latitude,
        longitude=point.longitude,
        distance_m=distance,
    )


async def get_point(ctx: TenantContext, point_id: str) -> PickupPoint:
    point = await ctx.session.get(PickupPoint, (ctx.tenant_id, point_id))
    if point is None:
        raise errors.point_not_found()
    return point


def _check_hours(data: s.PointIn) -> None:
    for day, spans in enumerate(data.hours):
        for span in spans:
            if span[0] >= span[1]:
                raise Invalid(
                    "an opening span ends after it starts",
                    code="pickup.invalid_hours",
                    errors=[FieldError(field=f"hours[{day}]", message="close before open")],
                )


async def _check_staff(ctx: TenantContext, staff_ids: list[str]) -> None:
    wanted = set(staff_ids)
    if not wanted:
        return
    found = set(
        (await ctx.session.scalars(select(StaffUser.id).where(StaffUser.id.in_(wanted)))).all()
    )
    missing = sorted(wanted - found)
    if missing:
        raise Invalid(
            "unknown staff members",
            code="pickup.unknown_staff",
            errors=[FieldError(field="staff_ids", message=f"no staff member {missing[0]}")],
        )


async def _check_members(ctx: TenantContext, member_ids: list[str]) -> None:
    wanted = set(member_ids)
    if not wanted:
        return
    found = set((await ctx.session.scalars(select(Member.id).where(Member.id.in_(wanted)))).all())
    missing = sorted(wanted - found)
    if missing:
        raise Invalid(
            "unknown members",
            code="pickup.unknown_member",
            errors=[FieldError(field="verifier_member_ids", message=f"no member {missing[0]}")],
        )


def _apply(point: PickupPoint, data: s.PointIn) -> None:
    point.name = data.name
    point.address = data.address
    point.phone = data.phone
    point.latitude = data.latitude
    point.longitude = data.longitude
    point.hours = [[list(span) for span in day] for day in data.hours]
    point.holidays = sorted(set(data.holidays))
    point.slot_minutes = data.slot_minutes
    point.capacity = data.capacity
    point.status = data.status
    point.staff_ids = sorted(set(data.staff_ids))
    point.verifier_member_ids = sorted(set(data.verifier_member_ids))
    point.booking_days = data.booking_days


async def _checked(ctx: TenantContext, data: s.PointIn) -> None:
    _check_hours(data)
    await _check_staff(ctx, data.staff_ids)
    await _check_members(ctx, data.verifier_member_ids)


async def create_point(ctx: TenantContext, data: s.PointIn) -> s.PointOut:
    """A new point (also what another plugin calls to open one: a community leader's)."""
    await _checked(ctx, data)
    point = PickupPoint()
    _apply(point, data)
    ctx.session.add(point)
    await ctx.session.flush()
    return point_out(point)


async def replace_point(ctx: TenantContext, point_id: str, data: s.PointIn) -> s.PointOut:
    point = await get_point(ctx, point_id)
    await _checked(ctx, data)
    _apply(point, data)
    await ctx.session.flush()
    return point_out(point)


async def set_point_access(
    ctx: TenantContext, point_id: str, *, status: s.PointStatus, verifier_member_ids: list[str]
) -> s.PointOut:
    """Open or close a point and set who verifies there from the storefront, leaving the
    rest as it is (another plugin that runs the point calls this: a leader suspended)."""
    point = await get_point(ctx, point_id)
    await _check_members(ctx, verifier_member_ids)
    point.status = status
    point.verifier_member_ids = sorted(set(verifier_member_ids))
    await ctx.session.flush()
    return point_out(point)


async def list_points(ctx: TenantContext, limit: int, cursor: str | None) -> Page[s.PointOut]:
    rows = list(
        await ctx.session.scalars(paged(select(PickupPoint), PickupPoint.id, limit, cursor))
    )
    return page_of(rows, limit, point_out, lambda row: row.id)


# ---- storefront ------------------------------------------------------------------------------


async def nearby(
    ctx: TenantContext, latitude: float | None, longitude: float | None
) -> s.StorePointList:
    """The active points, the nearest first when the buyer gave coordinates."""
    points = list(
        await ctx.session.scalars(select(PickupPoint).where(PickupPoint.status == "active"))
    )
    if latitude is None or longitude is None:
        points.sort(key=lambda p: (p.name, p.id))
        return s.StorePointList(items=[store_point(p) for p in points])
    found = [(distance_m(latitude, longitude, p.latitude, p.longitude), p.id, p) for p in points]
    found.sort(key=lambda entry: (entry[0], entry[1]))
    return s.StorePointList(items=[store_point(p, d) for d, _, p in found])


async def booked_in(
    ctx: TenantContext, point_id: str, starts: list[datetime]
) -> dict[datetime, int]:
    if not starts:
        return {}
    rows = await ctx.session.execute(
        select(PickupSlot.starts_at, PickupSlot.booked).where(
            PickupSlot.point_id == point_id, PickupSlot.starts_at.in_(starts)
        )
    )
    return {start: booked for start, booked in rows.all()}


async def slots(ctx: TenantContext, point_id: str) -> s.SlotList:
    point = await get_point(ctx, point_id)
    if point.status != "active":
        raise errors.point_not_found()
    days = booking_days_of(settings_of(ctx.tenant), point)
    starts = upcoming_slots(utcnow(), days, point.hours, point.holidays, point.slot_minutes)
    booked = await booked_in(ctx, point.id, starts)
    length = point.slot_minutes
    items = []
    for start in starts:
        left = None if point.capacity is None else max(point.capacity - booked.get(start, 0), 0)
        items.append(
            s.SlotOut(
                starts_at=start,
                ends_at=start + timedelta(minutes=length),
                available=left is None or left > 0,
                left=left,
            )
        )
    return s.SlotList(point_id=point.id, items=items)
