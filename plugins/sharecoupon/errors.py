"""The share coupon plugin's problem codes, one factory each. (A store with the plugin off
answers its routes with the core's 404 ``plugin.disabled``.)"""

from __future__ import annotations

from core.errors import AppError, Conflict, FieldError, Forbidden, Invalid, NotFound


def campaign_not_found() -> AppError:
    return NotFound("no such share coupon campaign", code="sharecoupon.campaign_not_found")


def pack_not_found() -> AppError:
    return NotFound("no such coupon pack", code="sharecoupon.pack_not_found")


def share_not_found() -> AppError:
    # One answer for a forged, altered, unknown or other store's token: nothing leaks.
    return NotFound("no such share", code="sharecoupon.share_not_found")


def own_pack() -> AppError:
    return Conflict("this is your own pack: share it with friends", code="sharecoupon.own_pack")


def already_claimed(in_campaign: bool) -> AppError:
    where = "in this campaign" if in_campaign else "from this pack"
    return Conflict(
        f"you have claimed a coupon {where} already", code="sharecoupon.already_claimed"
    )


def pack_empty() -> AppError:
    return Conflict("every coupon of this pack has been claimed", code="sharecoupon.pack_empty")


def pack_expired() -> AppError:
    return Conflict("this pack has expired", code="sharecoupon.pack_expired")


def pack_void() -> AppError:
    return Conflict(
        "this pack was withdrawn (its order was refunded)", code="sharecoupon.pack_void"
    )


def over_budget() -> AppError:
    return Conflict("this campaign has given out everything it had", code="sharecoupon.over_budget")


def campaign_ended() -> AppError:
    return Conflict("this campaign is not running", code="sharecoupon.campaign_ended")


def not_eligible(claimers: str, days: int) -> AppError:
    reason = (
        "this coupon is for new customers only"
        if claimers == "new_members"
        else f"this coupon is for customers who have not bought in {days} days"
    )
    return Forbidden(reason, code="sharecoupon.not_eligible")


def not_manual() -> AppError:
    return Conflict("packs of this campaign come with paid orders", code="sharecoupon.not_manual")


def has_pack() -> AppError:
    return Conflict("you have a pack of this campaign already", code="sharecoupon.has_pack")


# ---- the merchant's input ------------------------------------------------------------------


def invalid(field: str, message: str, code: str = "sharecoupon.invalid_campaign") -> AppError:
    """422 naming the failing field, as every check of a campaign answers."""
    return Invalid(
        f"{field}: {message}", code=code, errors=[FieldError(field=field, message=message)]
    )


def campaign_stopped() -> AppError:
    return Conflict("a stopped campaign cannot be changed", code="sharecoupon.campaign_stopped")
