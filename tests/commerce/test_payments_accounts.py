"""Payment accounts: providers come from the ``register_payment_providers`` hook; a merchant's
credentials are validated on save (each bad field named), sealed at rest, never returned (a
fingerprint instead), written by the owner only, and invisible to other stores."""

from __future__ import annotations

import asyncio
import copy
import secrets
from typing import Any, ClassVar

import httpx
import msgspec
import pytest

from core.context import Principal
from core.crypto import decrypt, fingerprint
from core.errors import AppError
from core.payments import accounts
from core.payments import schemas as s
from core.payments.models import PaymentAccount
from core.payments.providers import index_providers
from core.payments.sandbox import SandboxConfig, SandboxProvider
from core.plugins import build_registry
from core.runtime import Runtime
from storeplug.testing import SECRET, Merchant, onboard, problem, staff_auth
from tests.commerce.payments_support import activate_provider, use_sandbox, wechatpay_config
from tests.commerce.test_store_settings import bearer

URL = "/payments/accounts"
SECRETS = ("merchant_private_key", "apiv3_key")


async def put(
    client: httpx.AsyncClient,
    m: Merchant,
    provider: str,
    body: dict[str, Any],
    auth: dict[str, str] | None = None,
) -> httpx.Response:
    return await client.put(f"{m.merchant}{URL}/{provider}", json=body, headers=auth or m.auth)


def by_provider(listed: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {item["provider"]: item for item in listed}


def assert_no_secret(config: dict[str, str], *responses: httpx.Response) -> None:
    for response in responses:
        for name in SECRETS:
            value = config[name]
            assert value not in response.text
            # A PEM's body survives JSON escaping of its newlines: check a line of it too.
            for line in value.splitlines()[1:-1][:3]:
                assert line not in response.text


# ---- the hook that registers providers --------------------------------------------------------


class AlipayLike:
    """A provider a plugin could add (only its registration is exercised here)."""

    name: ClassVar[str] = "alipay_test"
    title: ClassVar[str] = "Alipay (test)"
    config_type: ClassVar[type[msgspec.Struct]] = SandboxConfig
    secret_fields: ClassVar[frozenset[str]] = frozenset()
    sandbox: ClassVar[bool] = False


class AlipayPlugin:
    from core.hookspecs import hookimpl

    @hookimpl
    def register_payment_providers(self) -> list[Any]:
        return [AlipayLike()]


def test_register_payment_providers_lets_a_plugin_add_one() -> None:
    registry = build_registry()
    core = index_providers(registry.pm.hook.register_payment_providers())
    assert {"sandbox", "wechatpay"} <= set(core)
    registry.pm.register(AlipayPlugin(), name="alipay_test")
    found = index_providers(registry.pm.hook.register_payment_providers())
    assert isinstance(found["alipay_test"], AlipayLike)
    # Two providers of one name stop the start-up.
    with pytest.raises(RuntimeError, match="registered twice"):
        index_providers([[SandboxProvider()], [SandboxProvider()]])


# ---- listing and saving -----------------------------------------------------------------------


async def test_list_shows_every_provider_unconfigured(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    m = await onboard(client)
    listed = await client.get(f"{m.merchant}{URL}", headers=m.auth)
    assert listed.status_code == 200, listed.text
    found = by_provider(listed.json())
    assert set(found) == set(rt.payment_providers)
    wechat = found["wechatpay"]
    assert wechat["configured"] is False and wechat["active"] is False
    assert wechat["secret_fields"] == sorted(SECRETS)
    assert "mchid" in wechat["config_schema"]["$defs"]["WeChatPayConfig"]["properties"]
    assert wechat["notify_url"] == f"{rt.settings.public_url}/webhooks/{m.slug}/wechatpay"
    assert found["sandbox"]["available"] is True
    one = await client.get(f"{m.merchant}{URL}/wechatpay", headers=m.auth)
    assert one.json() == wechat
    problem(
        await client.get(f"{m.merchant}{URL}/paypal", headers=m.auth),
        404,
        "payment.unknown_provider",
    )


async def test_save_validates_each_field(client: httpx.AsyncClient) -> None:
    m = await onboard(client)
    config = wechatpay_config()

    missing = problem(
        await put(client, m, "wechatpay", {"config": {}}), 422, "payment.invalid_config"
    )
    assert [e["field"] for e in missing["errors"]] == ["config.mchid"]
    wrong_type = await put(client, m, "wechatpay", {"config": {**config, "mchid": 1900000109}})
    body = problem(wrong_type, 422, "payment.invalid_config")
    assert [e["field"] for e in body["errors"]] == ["config.mchid"]

    bad = {
        **config,
        "mchid": "12ab",
        "appid": "wxNOTHEX",
        "merchant_private_key": "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----",
        "apiv3_key": "short",
        "platform_public_key": "hello",
    }
    refused = await put(client, m, "wechatpay", {"config": bad})
    body = problem(refused, 422, "payment.invalid_config")
    fields = {e["field"] for e in body["errors"]}
    assert {
        "config.mchid",
        "config.appid",
        "config.merchant_private_key",
        "config.apiv3_key",
        "config.platform_public_key",
    } <= fields
    assert "not a key" not in refused.text and "short" not in refused.text.replace("shorter", "")

    # A good key with the wrong size of APIv3 key: only that field is named, no key echoed.
    one_bad = await put(client, m, "wechatpay", {"config": {**config, "apiv3_key": "x" * 31}})
    assert [e["field"] for e in problem(one_bad, 422, "payment.invalid_config")["errors"]] == [
        "config.apiv3_key"
    ]
    assert_no_secret(config, one_bad)
    # Nothing was stored by any refused save.
    listed = by_provider((await client.get(f"{m.merchant}{URL}", headers=m.auth)).json())
    assert listed["wechatpay"]["configured"] is False
    # Not an object, or an unknown top-level field: the body itself is refused.
    assert (await put(client, m, "wechatpay", {"config": "x"})).status_code == 400
    assert (await put(client, m, "wechatpay", {"config": {}, "extra": 1})).status_code == 400


async def test_secrets_are_sealed_and_never_returned(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    m = await onboard(client)
    config = wechatpay_config()
    saved = await put(client, m, "wechatpay", {"config": config, "active": True})
    assert saved.status_code == 200, saved.text
    body = saved.json()
    assert body["configured"] is True and body["active"] is True
    assert body["config"] == {k: v for k, v in config.items() if k not in SECRETS}
    assert body["fingerprints"] == {k: fingerprint(config[k]) for k in SECRETS}
    responses = [
        saved,
        await client.get(f"{m.merchant}{URL}", headers=m.auth),
        await client.get(f"{m.merchant}{URL}/wechatpay", headers=m.auth),
        await put(client, m, "wechatpay", {"config": {**config, "mchid": "x"}}),
        await client.get("/schema/openapi.json"),
    ]
    assert_no_secret(config, *responses)

    async with rt.db.tenant_session(m.id) as session:
        row = await session.get(PaymentAccount, (m.id, "wechatpay"))
        assert row is not None
        blob, plain = row.secrets_enc, dict(row.config)
    assert blob is not None
    for name in SECRETS:
        assert config[name].encode() not in blob
        assert name not in plain
    opened = msgspec.json.decode(decrypt(SECRET, m.id, "payments:wechatpay", blob))
    assert opened == {k: config[k] for k in SECRETS}
    with pytest.raises(ValueError):
        decrypt(SECRET, "another-tenant", "payments:wechatpay", blob)

    # The decrypted account is what providers get, for one call.
    tenant = await rt.tenants.resolve(m.slug)
    provider, account = await accounts.load_account(rt, tenant)
    assert provider.name == "wechatpay"
    assert account.config.merchant_private_key == config["merchant_private_key"]
    assert account.config.apiv3_key == config["apiv3_key"]
    assert (account.tenant_id, account.tenant_slug) == (m.id, m.slug)


async def test_a_secret_left_out_keeps_the_stored_one(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    m = await onboard(client)
    config = wechatpay_config()
    # The first save needs every field.
    first = {k: v for k, v in config.items() if k != "apiv3_key"}
    refused = problem(
        await put(client, m, "wechatpay", {"config": first}), 422, "payment.invalid_config"
    )
    assert [e["field"] for e in refused["errors"]] == ["config.apiv3_key"]
    assert (await put(client, m, "wechatpay", {"config": config})).status_code == 200

    new_appid = "wx" + secrets.token_hex(8)
    plain = {k: v for k, v in config.items() if k not in SECRETS}
    changed = await put(
        client, m, "wechatpay", {"config": {**plain, "appid": new_appid, "apiv3_key": ""}}
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["config"]["appid"] == new_appid
    assert changed.json()["fingerprints"] == {k: fingerprint(config[k]) for k in SECRETS}
    tenant = await rt.tenants.resolve(m.slug)
    _, account = await accounts.load_account(rt, tenant, "wechatpay")
    assert account.config.appid == new_appid
    assert account.config.apiv3_key == config["apiv3_key"]
    assert account.config.merchant_private_key == config["merchant_private_key"]

    # A new secret replaces the old one.
    rotated = await put(client, m, "wechatpay", {"config": {**plain, "apiv3_key": "k" * 32}})
    assert rotated.json()["fingerprints"]["apiv3_key"] == fingerprint("k" * 32)


async def test_one_active_account(client: httpx.AsyncClient, rt: Runtime) -> None:
    m = await onboard(client)
    tenant = await rt.tenants.resolve(m.slug)
    with pytest.raises(AppError) as nothing:
        await accounts.load_account(rt, tenant)
    assert (nothing.value.status, nothing.value.code) == (409, "payment.not_configured")

    await use_sandbox(client, m)
    assert (await accounts.load_account(rt, tenant))[0].name == "sandbox"
    config = wechatpay_config()
    body = await activate_provider(client, m, "wechatpay", config)
    assert body["active"] is True
    assert await active_providers(client, m) == ["wechatpay"]
    assert (await accounts.load_account(rt, tenant))[0].name == "wechatpay"
    # An inactive account still loads by name (its notifications and refunds go on).
    assert (await accounts.load_account(rt, tenant, "sandbox"))[0].name == "sandbox"
    # Saving without "active" leaves it as it was.
    kept = await put(client, m, "sandbox", {"config": {}})
    assert kept.json()["active"] is False
    plain = {k: v for k, v in config.items() if k not in SECRETS}
    off = await put(client, m, "wechatpay", {"config": plain, "active": False})
    assert off.status_code == 200, off.text
    with pytest.raises(AppError) as none_active:
        await accounts.load_account(rt, tenant)
    assert none_active.value.code == "payment.not_configured"

    # Concurrent "make mine active" saves leave exactly one active account.
    bodies = [("sandbox", {"config": {}, "active": True})]
    bodies.append(("wechatpay", {"config": plain, "active": True}))
    answers = await asyncio.gather(*(put(client, m, p, b) for p, b in bodies * 3))
    assert all(a.status_code == 200 for a in answers), [a.text for a in answers]
    assert len(await active_providers(client, m)) == 1


async def active_providers(client: httpx.AsyncClient, m: Merchant) -> list[str]:
    listed = (await client.get(f"{m.merchant}{URL}", headers=m.auth)).json()
    return [a["provider"] for a in listed if a["active"]]


async def test_roles_and_other_stores(client: httpx.AsyncClient) -> None:
    m = await onboard(client)
    other = await onboard(client)
    config = wechatpay_config()
    manager = await staff_auth(client, m, "manager")
    clerk = await staff_auth(client, m, "clerk")
    key = await client.post(
        f"{m.merchant}/api-keys", headers=m.auth, json={"name": "erp", "role": "manager"}
    )
    api_key = bearer(key.json()["key"])

    for caller in (manager, api_key):
        assert (await client.get(f"{m.merchant}{URL}", headers=caller)).status_code == 200
        denied = await put(client, m, "wechatpay", {"config": config}, caller)
        problem(denied, 403, "auth.role_required")
        assert_no_secret(config, denied)
    problem(await client.get(f"{m.merchant}{URL}", headers=clerk), 403, "auth.role_required")
    problem(await client.get(f"{m.merchant}{URL}"), 401, "auth.required")
    assert (await put(client, m, "wechatpay", {"config": config})).status_code == 200

    # Another store's owner cannot read or write this store's accounts, and sees none of it.
    assert (await client.get(f"{m.merchant}{URL}", headers=other.auth)).status_code == 401
    assert (await put(client, m, "sandbox", {"config": {}}, other.auth)).status_code == 401
    theirs = by_provider((await client.get(f"{other.merchant}{URL}", headers=other.auth)).json())
    assert theirs["wechatpay"]["configured"] is False


async def test_sandbox_needs_the_deployment_to_allow_it(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    m = await onboard(client)
    await use_sandbox(client, m)
    strict = copy.copy(rt)
    strict.settings = msgspec.structs.replace(rt.settings, allow_sandbox_payments=False)
    tenant = await rt.tenants.resolve(m.slug)
    owner = Principal(kind="staff", id="owner", role="owner", tenant_id=m.id)
    with pytest.raises(AppError) as saving:
        async with strict.tenant_context(tenant, owner) as ctx:
            await accounts.save_account(ctx, strict, "sandbox", s.AccountIn(config={}))
    assert (saving.value.status, saving.value.code) == (409, "payment.sandbox_disabled")
    with pytest.raises(AppError) as loading:
        await accounts.load_account(strict, tenant)
    assert loading.value.code == "payment.sandbox_disabled"
    async with strict.tenant_context(tenant, owner) as ctx:
        listed = {a.provider: a for a in await accounts.list_accounts(ctx, strict)}
    assert listed["sandbox"].available is False


async def test_secrets_sealed_under_another_key_must_be_entered_again(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    m = await onboard(client)
    await activate_provider(client, m, "wechatpay", wechatpay_config())
    rekeyed = copy.copy(rt)
    rekeyed.settings = msgspec.structs.replace(rt.settings, secret_key="another-" + SECRET)
    tenant = await rt.tenants.resolve(m.slug)
    with pytest.raises(AppError) as refused:
        await accounts.load_account(rekeyed, tenant)
    assert (refused.value.status, refused.value.code) == (409, "payment.not_configured")
