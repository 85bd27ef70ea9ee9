"""The public test kit's own fixtures: a tenant with the plugins enabled, a member and a staff
member who are who they claim to be, and nothing of one tenant visible to another."""

from __future__ import annotations

import httpx
import pytest

from storeplug.testing import Merchant, Shopper, Staff, onboard, problem


@pytest.fixture(scope="session")
def storeplug_plugins() -> tuple[str, ...]:
    return ("echo",)


async def test_the_merchant_has_the_plugins_enabled(
    client: httpx.AsyncClient, merchant: Merchant
) -> None:
    hello = await client.get(f"{merchant.store}/echo/hello")
    assert hello.status_code == 200, hello.text
    assert hello.json()["tenant"] == merchant.slug
    listed = await client.get(f"{merchant.merchant}/plugins", headers=merchant.auth)
    assert listed.status_code == 200, listed.text
    assert {p["name"]: p["enabled"] for p in listed.json()}["echo"] is True


async def test_the_member_is_signed_in_to_their_store_only(
    client: httpx.AsyncClient, merchant: Merchant, member: Shopper
) -> None:
    me = await client.get(f"{merchant.store}/me", headers=member.auth)
    assert me.status_code == 200, me.text
    assert me.json()["id"] == member.id
    problem(await client.get(f"{merchant.store}/me"), 401, "auth.required")


async def test_the_staff_member_is_a_signed_in_clerk(
    client: httpx.AsyncClient, merchant: Merchant, staff: Staff
) -> None:
    charges = await client.get(f"{merchant.merchant}/echo/charges", headers=staff.auth)
    assert charges.status_code == 200, charges.text
    # A clerk, not an owner: managing staff is refused.
    problem(
        await client.post(
            f"{merchant.merchant}/staff/",
            headers=staff.auth,
            json={"username": "another-clerk", "role": "clerk"},
        ),
        403,
        "auth.role_required",
    )


async def test_each_test_gets_a_tenant_of_its_own(
    client: httpx.AsyncClient, merchant: Merchant, member: Shopper
) -> None:
    other = await onboard(client, plan=merchant.plan, plugins=("echo",))
    assert other.slug != merchant.slug
    problem(await client.get(f"{other.store}/me", headers=member.auth), 401, "auth.invalid_token")
