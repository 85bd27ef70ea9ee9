"""Store settings: defaults, validation naming the field, roles, and the WeChat AppSecret —
stored encrypted, never returned."""

from __future__ import annotations

import secrets
from typing import Any

import httpx
import pytest

from core.crypto import decrypt, fingerprint
from core.runtime import Runtime
from core.store.models import StoreSettings
from storeplug.testing import SECRET, Merchant, onboard, staff_auth

URL = "/settings/store"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def put(
    client: httpx.AsyncClient, m: Merchant, body: dict[str, Any], auth: dict[str, str] | None = None
) -> httpx.Response:
    return await client.put(f"{m.merchant}{URL}", json=body, headers=auth or m.auth)


def new_credentials() -> tuple[str, str]:
    return "wx" + secrets.token_hex(8), secrets.token_hex(16)


async def test_defaults_and_commerce_fields(client: httpx.AsyncClient) -> None:
    m = await onboard(client)
    got = await client.get(f"{m.merchant}{URL}", headers=m.auth)
    assert got.status_code == 200, got.text
    body = got.json()
    assert body["payment_window_minutes"] == 15
    assert body["shipping_fee"] == 0
    assert body["free_shipping_threshold"] is None
    assert body["auto_complete_days"] == 7
    assert body["wechat_appid"] == ""
    assert body["wechat_secret_set"] is False
    assert body["wechat_secret_fingerprint"] is None

    changed = await put(
        client,
        m,
        {
            "payment_window_minutes": 30,
            "shipping_fee": 800,
            "free_shipping_threshold": 9900,
            "auto_complete_days": 10,
        },
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["shipping_fee"] == 800
    # Fields not named stay; null clears the free-shipping threshold.
    cleared = await put(client, m, {"free_shipping_threshold": None})
    assert cleared.status_code == 200
    assert cleared.json()["free_shipping_threshold"] is None
    assert cleared.json()["payment_window_minutes"] == 30
    assert cleared.json()["auto_complete_days"] == 10


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("payment_window_minutes", 0),
        ("payment_window_minutes", 1441),
        ("shipping_fee", -1),
        ("shipping_fee", 10**12),
        ("free_shipping_threshold", -5),
        ("auto_complete_days", 0),
        ("auto_complete_days", 61),
        ("wechat_appid", "wx123"),
        ("wechat_appid", "wx" + "A" * 16),
        ("wechat_secret", "abc"),
        ("wechat_secret", "G" * 32),
        ("wechat_secret", "0123456789ABCDEF0123456789ABCDEF"),
        ("surprise", 1),
    ],
)
async def test_validation_names_the_field(
    client: httpx.AsyncClient, field: str, value: Any
) -> None:
    m = await onboard(client)
    # Generating the OpenAPI document once used to add a phantom tenant_slug error here.
    assert (await client.get("/schema/openapi.json")).status_code == 200
    before = (await client.get(f"{m.merchant}{URL}", headers=m.auth)).json()
    body = {"shipping_fee": 123, field: value}
    bad = await put(client, m, body)
    assert bad.status_code == 400, bad.text
    assert bad.headers["content-type"].startswith("application/problem+json")
    problem = bad.json()
    assert problem["code"] == "request.invalid"
    assert [e["field"] for e in problem["errors"]] == [field], problem
    # Nothing half-written: the valid field in the same body did not land either.
    after = (await client.get(f"{m.merchant}{URL}", headers=m.auth)).json()
    assert after == before


async def test_secret_is_encrypted_and_never_returned(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    m = await onboard(client)
    appid, secret = new_credentials()
    saved = await put(client, m, {"wechat_appid": appid, "wechat_secret": secret})
    assert saved.status_code == 200, saved.text
    responses = [saved, await client.get(f"{m.merchant}{URL}", headers=m.auth)]
    responses.append(await put(client, m, {"shipping_fee": 1}))
    responses.append(await client.get("/schema/openapi.json"))
    for response in responses:
        assert secret not in response.text
        assert secret.upper() not in response.text
    body = responses[1].json()
    assert body["wechat_appid"] == appid
    assert body["wechat_secret_set"] is True
    assert body["wechat_secret_fingerprint"] == fingerprint(secret)
    assert "wechat_secret" not in body

    async with rt.db.tenant_session(m.id) as session:
        row = await session.get(StoreSettings, m.id)
        assert row is not None
        blob = row.wechat_secret_enc
    assert blob is not None
    assert secret.encode() not in blob
    assert bytes.fromhex(secret) not in blob
    assert decrypt(SECRET, m.id, "wechat_secret", blob) == secret
    with pytest.raises(ValueError):
        decrypt(SECRET, "another-tenant", "wechat_secret", blob)
    with pytest.raises(ValueError):
        decrypt(SECRET, m.id, "another_field", blob)

    # A new secret replaces the old; null clears it.
    _, other = new_credentials()
    rotated = await put(client, m, {"wechat_secret": other})
    assert rotated.json()["wechat_secret_fingerprint"] == fingerprint(other)
    gone = await put(client, m, {"wechat_secret": None})
    assert gone.json()["wechat_secret_set"] is False
    assert gone.json()["wechat_secret_fingerprint"] is None
    assert gone.json()["wechat_appid"] == appid


async def test_new_appid_needs_its_secret(client: httpx.AsyncClient) -> None:
    m = await onboard(client)
    appid, secret = new_credentials()
    assert (await put(client, m, {"wechat_appid": appid, "wechat_secret": secret})).is_success
    other_appid, other_secret = new_credentials()
    alone = await put(client, m, {"wechat_appid": other_appid})
    assert alone.status_code == 400
    assert [e["field"] for e in alone.json()["errors"]] == ["wechat_secret"]
    same = await put(client, m, {"wechat_appid": appid})
    assert same.status_code == 200
    both = await put(client, m, {"wechat_appid": other_appid, "wechat_secret": other_secret})
    assert both.status_code == 200
    assert both.json()["wechat_appid"] == other_appid


async def test_roles(client: httpx.AsyncClient) -> None:
    m = await onboard(client)
    manager = await staff_auth(client, m, "manager")
    clerk = await staff_auth(client, m, "clerk")
    key = await client.post(
        f"{m.merchant}/api-keys", headers=m.auth, json={"name": "erp", "role": "manager"}
    )
    api_key = bearer(key.json()["key"])
    appid, secret = new_credentials()

    assert (await client.get(f"{m.merchant}{URL}")).status_code == 401
    denied = await client.get(f"{m.merchant}{URL}", headers=clerk)
    assert denied.status_code == 403
    assert denied.json()["code"] == "auth.role_required"
    assert (await put(client, m, {"shipping_fee": 5}, clerk)).status_code == 403

    for caller in (manager, api_key):
        assert (await client.get(f"{m.merchant}{URL}", headers=caller)).status_code == 200
        ok = await put(client, m, {"shipping_fee": 700}, caller)
        assert ok.status_code == 200, ok.text
        for creds in ({"wechat_appid": appid}, {"wechat_secret": secret}):
            no = await put(client, m, {"shipping_fee": 1, **creds}, caller)
            assert no.status_code == 403
            assert no.json()["code"] == "auth.role_required"
    owner = await put(client, m, {"wechat_appid": appid, "wechat_secret": secret})
    assert owner.status_code == 200
    assert owner.json()["shipping_fee"] == 700

    # Another store's owner is a stranger here.
    other = await onboard(client)
    assert (await client.get(f"{m.merchant}{URL}", headers=other.auth)).status_code == 401
