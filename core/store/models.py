"""Store-wide settings a merchant edits: payment window, shipping, WeChat app credentials."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, TenantOwned, utcnow


class StoreSettings(TenantOwned, Base):
    """One row per tenant (``tenant_id`` is the whole key); missing means the defaults."""

    __tablename__ = "store_settings"

    payment_window_minutes: Mapped[int] = mapped_column(default=15)
    shipping_fee: Mapped[int] = mapped_column(default=0)  # fen, flat express fee
    free_shipping_threshold: Mapped[int | None] = mapped_column(default=None)  # fen
    auto_complete_days: Mapped[int] = mapped_column(default=7)
    # A member may ask for a refund until this many days after the order completed.
    after_sales_days: Mapped[int] = mapped_column(default=7)
    wechat_appid: Mapped[str] = mapped_column(String(32), default="")
    # The AppSecret, encrypted with the deployment's secret key (core.crypto); never returned.
    wechat_secret_enc: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
