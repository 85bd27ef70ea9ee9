"""Core tables that are not part of a commerce domain."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, TenantOwned, utcnow


class IdempotencyKey(TenantOwned, Base):
    """One remembered request: the lookup key is (tenant, principal, route, key)."""

    __tablename__ = "idempotency_keys"

    principal: Mapped[str] = mapped_column(String(80), primary_key=True)
    route: Mapped[str] = mapped_column(String(200), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))  # in_flight | done
    response_status: Mapped[int | None] = mapped_column(default=None)
    response_body: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    locked_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]


# Every core table, so alembic and the metadata tests see them all by importing this module.
from core.analytics import models as _analytics  # noqa: E402,F401
from core.campaigns import models as _campaigns  # noqa: E402,F401
from core.cart import models as _cart  # noqa: E402,F401
from core.catalog import models as _catalog  # noqa: E402,F401
from core.coupons import models as _coupons  # noqa: E402,F401
from core.inventory import models as _inventory  # noqa: E402,F401
from core.members import models as _members  # noqa: E402,F401
from core.notifications import models as _notifications  # noqa: E402,F401
from core.orders import models as _orders  # noqa: E402,F401
from core.payments import models as _payments  # noqa: E402,F401
from core.store import models as _store  # noqa: E402,F401
from core.tenancy import models as _tenancy  # noqa: E402,F401
