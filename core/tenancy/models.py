"""The tenant registry's tables: the shared ``plans`` and ``tenants`` (the only tables without
a tenant), and ``tenant_plugins``, which feature plugins each tenant has on and with what
settings. Core needs them to resolve a request's tenant and to sweep tenants in jobs; the
vendor side (``tenants/``) writes them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from core.db import ID_LENGTH, Base, TenantOwned, new_id, utcnow

SHARED = {"shared": True}


class Plan(Base):
    __tablename__ = "plans"
    __table_args__ = {"info": SHARED}

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    # Plan features; a plugin may be enabled when its PluginMeta.feature is listed here.
    plugins: Mapped[list[str]] = mapped_column(default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Tenant(Base):
    __tablename__ = "tenants"
    __table_args__ = {"info": SHARED}

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True, default=new_id)
    slug: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    plan: Mapped[str] = mapped_column(ForeignKey("plans.code"))
    status: Mapped[str] = mapped_column(String(20), default="active")
    branding: Mapped[dict[str, Any]] = mapped_column(default=dict)
    contact: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class TenantPlugin(TenantOwned, Base):
    """Per-tenant enablement and settings of a feature plugin. Turning off keeps the row."""

    __tablename__ = "tenant_plugins"
    plugin: Mapped[str] = mapped_column(String(64), primary_key=True)
    enabled: Mapped[bool] = mapped_column(default=False)
    config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
