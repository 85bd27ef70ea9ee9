"""Request and response bodies of the vendor and merchant tenant APIs."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec

from core.context import Branding

Slug = Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9][a-z0-9-]{1,38}[a-z0-9]$")]
PlanCode = Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Color = Annotated[str, msgspec.Meta(pattern=r"^#[0-9A-Fa-f]{6}$")]
Url = Annotated[str, msgspec.Meta(pattern=r"^(https?://\S+)?$", max_length=500)]
Username = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_.@-]{3,64}$")]
Password = Annotated[str, msgspec.Meta(min_length=10, max_length=200)]
Role = Literal["owner", "manager", "clerk"]


class BrandingIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    display_name: Annotated[str, msgspec.Meta(max_length=100)] = ""
    logo_url: Url = ""
    primary_color: Color = "#07C160"
    secondary_color: Color = "#FFFFFF"


class Contact(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(max_length=100)] = ""
    phone: Annotated[str, msgspec.Meta(max_length=40)] = ""
    email: Annotated[str, msgspec.Meta(max_length=200)] = ""


class PlanIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    code: PlanCode
    name: Name
    plugins: list[str] = []


class PlanOut(msgspec.Struct, kw_only=True):
    code: str
    name: str
    plugins: list[str]


class TenantCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    slug: Slug
    name: Name
    plan: PlanCode
    branding: BrandingIn = msgspec.field(default_factory=BrandingIn)
    contact: Contact = msgspec.field(default_factory=Contact)
    owner_username: Username = "owner"


class TenantUpdate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: Name | None = None
    plan: PlanCode | None = None
    branding: BrandingIn | None = None
    contact: Contact | None = None


class TenantOut(msgspec.Struct, kw_only=True):
    id: str
    slug: str
    name: str
    plan: str
    status: str
    branding: Branding
    contact: Contact
    created_at: datetime


class OwnerCredentials(msgspec.Struct, kw_only=True):
    username: str
    initial_password: str  # shown once; the owner must change it at first login


class TenantCreated(msgspec.Struct, kw_only=True):
    tenant: TenantOut
    owner: OwnerCredentials


class LoginIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    username: Annotated[str, msgspec.Meta(max_length=64)]
    password: Annotated[str, msgspec.Meta(max_length=200)]


class StaffOut(msgspec.Struct, kw_only=True):
    id: str
    username: str
    display_name: str
    role: str
    active: bool
    must_change_password: bool
    locale: str = ""  # the console language chosen; "" follows the browser


class LoginOut(msgspec.Struct, kw_only=True):
    token: str
    expires_at: datetime
    staff: StaffOut


class PasswordChange(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    current_password: Annotated[str, msgspec.Meta(max_length=200)]
    new_password: Password


class LocaleIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    locale: Literal["", "zh_CN", "en"] = ""  # "" follows the browser


class StaffCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    username: Username
    role: Role
    display_name: Annotated[str, msgspec.Meta(max_length=100)] = ""


class StaffCreated(msgspec.Struct, kw_only=True):
    staff: StaffOut
    initial_password: str


class ApiKeyCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: Name
    role: Literal["manager", "clerk"] = "manager"


class ApiKeyOut(msgspec.Struct, kw_only=True):
    id: str
    name: str
    prefix: str
    role: str
    created_at: datetime
    revoked: bool


class ApiKeyCreated(msgspec.Struct, kw_only=True):
    api_key: ApiKeyOut
    key: str  # shown once


class PluginOut(msgspec.Struct, kw_only=True):
    name: str
    title: str
    description: str
    version: str
    in_plan: bool
    enabled: bool
    requires: list[str]  # plugins that must be on for this one
    settings: dict[str, Any]
    settings_schema: dict[str, Any]


class PluginSettingsIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    settings: dict[str, Any] | None = None


class StoreOut(msgspec.Struct, kw_only=True):
    slug: str
    name: str
    branding: Branding
    plugins: list[str]


# ---- vendor console operators --------------------------------------------------------------


class VendorUserCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    username: Username
    display_name: Annotated[str, msgspec.Meta(max_length=100)] = ""


class VendorUserOut(msgspec.Struct, kw_only=True):
    id: str
    username: str
    display_name: str
    active: bool
    must_change_password: bool
    locale: str
    created_at: datetime


class VendorUserCreated(msgspec.Struct, kw_only=True):
    """The operator and their one-time password (shown once, changed at first sign-in)."""

    user: VendorUserOut
    initial_password: str


class VendorLoginOut(msgspec.Struct, kw_only=True):
    token: str
    expires_at: datetime
    user: VendorUserOut
