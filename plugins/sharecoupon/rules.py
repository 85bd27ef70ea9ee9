"""What every part of the share coupon plugin shares: its name, its settings, a campaign's
phase, the day of an event, and the share token.

The share token is 24 URL-safe characters: the first 18 bytes of
HMAC-SHA256(secret, "sharecoupon|<tenant>|<pack>|<nonce>"), where the nonce is 128 random
bits kept on the pack. Only its SHA-256 is stored (``token_hash``, for the lookup), so
neither the database nor the pack's id gives the token away, and the sharer gets the same
token each time they share. A token that does not match a pack of the store is a 404, the
same answer whatever was wrong with it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from datetime import datetime, timedelta, timezone

import msgspec
from sqlalchemy import select

from core.context import TenantContext, TenantInfo
from core.db import ID_LENGTH
from plugins.sharecoupon import errors
from plugins.sharecoupon.models import ShareCampaign, SharePack
from plugins.sharecoupon.schemas import Phase, ShareCouponSettings

PLUGIN = "sharecoupon"
SOURCE = PLUGIN  # the coupons' ``source``: the merchant sees where a coupon came from
# A new member's ``source_ref`` when they arrive through a share: "sharecoupon:<token>".
REF_PREFIX = f"{PLUGIN}:"
CST = timezone(timedelta(hours=8))  # days are China Standard Time, as merchants read them
TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9_-]{24}$")


def settings_of(tenant: TenantInfo) -> ShareCouponSettings:
    return msgspec.convert(tenant.plugin_configs.get(PLUGIN) or {}, ShareCouponSettings)


def day_of(moment: datetime) -> str:
    return moment.astimezone(CST).strftime("%Y-%m-%d")


def spent(campaign: ShareCampaign) -> bool:
    packs = campaign.max_packs is not None and campaign.packs_issued >= campaign.max_packs
    claims = campaign.max_claims is not None and campaign.claims >= campaign.max_claims
    return packs or claims


def phase_of(campaign: ShareCampaign, now: datetime) -> Phase:
    """``running`` only while active, in its window and within its budget."""
    if campaign.status != "active" or (campaign.ends_at is not None and now >= campaign.ends_at):
        return "ended"
    if now < campaign.starts_at:
        return "upcoming"
    return "spent" if spent(campaign) else "running"


def in_window(campaign: ShareCampaign, now: datetime) -> bool:
    return phase_of(campaign, now) in ("running", "spent")


async def get_campaign(
    ctx: TenantContext, campaign_id: str, *, lock: bool = False
) -> ShareCampaign:
    """The campaign, or 404 ``sharecoupon.campaign_not_found`` (another store's id
    included); ``lock`` holds its row until the transaction ends."""
    campaign = None
    if len(campaign_id) <= ID_LENGTH:
        query = select(ShareCampaign).where(ShareCampaign.id == campaign_id)
        campaign = await ctx.session.scalar(query.with_for_update() if lock else query)
    if campaign is None:
        raise errors.campaign_not_found()
    return campaign


# ---- the share token -----------------------------------------------------------------------


def share_token(secret: str, tenant_id: str, pack: SharePack) -> str:
    message = f"{PLUGIN}|{tenant_id}|{pack.id}|{pack.nonce}".encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()[:18]
    return base64.urlsafe_b64encode(digest).decode()


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def pack_of_token(ctx: TenantContext, token: str, *, lock: bool = False) -> SharePack:
    """The shared pack the token names, or 404 ``sharecoupon.share_not_found``."""
    pack = None
    if TOKEN_PATTERN.match(token):
        query = select(SharePack).where(SharePack.token_hash == token_hash(token))
        pack = await ctx.session.scalar(query.with_for_update() if lock else query)
    if pack is None:
        raise errors.share_not_found()
    return pack
