"""The share coupon's console pages over real HTTP: the campaigns list, a new campaign with
its errors shown per field, a campaign's figures and chart after a share, replacing and
stopping it, roles, another store's campaign, and the plugin off."""

from __future__ import annotations

import httpx

from core.runtime import Runtime
from storeplug.testing import LiveServer
from storeplug.testing.console import signed_in, staff_login
from storeplug.testing.fakes.wechat import FakeWeChat
from tests.sharecoupon.support import claim, paid_order, people, share_store, shared_pack


def form(template_id: str, **changes: str) -> dict[str, str]:
    return {
        "title": "周末分享券",
        "template_id": template_id,
        "pack_size": "4",
        "trigger": "order",
        "min_order_amount": "5000",
        "claimers": "anyone",
        "dormant_days": "0",
        "one_per_campaign": "on",
        "pack_valid_hours": "24",
        "coupon_valid_days": "",
        "max_packs": "10",
        "max_claims": "",
        "reward_kind": "none",
        "reward_when": "claims",
        "reward_claims": "1",
        "reward_template_id": "",
        "reward_points": "0",
        "ends_on": "",
        **changes,
    }


async def test_campaign_pages_create_show_figures_replace_and_stop(
    client: httpx.AsyncClient, rt: Runtime, fake_wechat: FakeWeChat, server: LiveServer
) -> None:
    store = await share_store(client, rt, fake_wechat)
    m, template_id = store.merchant, store.template["id"]
    [sharer, friend] = await people(rt, store, 2)
    _, token = await shared_pack(client, store, sharer, await paid_order(client, store, sharer))
    assert (await claim(client, store, friend, token)).status_code == 201

    async with signed_in(server.url, m) as console:
        listed = await console.get("sharecoupon")
        assert listed.status_code == 200, listed.text
        assert "社交立减金" in listed.text  # the menu entry and the page, in Chinese
        assert f'data-testid="phase-{store.campaign["id"]}">进行中<' in listed.text

        page = await console.get(f"sharecoupon/{store.campaign['id']}")
        assert page.status_code == 200, page.text
        assert 'data-testid="packs-issued">1<' in page.text
        assert 'data-testid="claims">1<' in page.text
        assert page.text.count('<rect class="bar"') == 1  # one day with claims

        new = await console.get("sharecoupon/new")
        assert new.status_code == 200 and 'data-testid="campaign-form"' in new.text
        wrong = await console.post("sharecoupon/new", form(template_id, pack_size="0"))
        assert wrong.status_code == 422
        assert 'data-testid="error-pack_size"' in wrong.text
        assert "周末分享券" in wrong.text  # what was typed is shown again
        refused = await console.post(
            "sharecoupon/new",
            form(template_id, reward_kind="coupon", reward_template_id=""),
        )
        assert refused.status_code == 422
        assert 'data-testid="error-reward_template_id"' in refused.text
        made = await console.post("sharecoupon/new", form(template_id))
        assert made.status_code == 303, made.text
        campaign_path = made.headers["location"].split(f"/console/{m.slug}/", 1)[1]

        shown = await console.get(campaign_path)
        assert "周末分享券" in shown.text and 'value="10"' in shown.text
        too_many = await console.post(
            campaign_path,
            form(template_id, reward_kind="points", reward_points="5", reward_claims="9"),
        )
        assert too_many.status_code == 422
        assert 'data-testid="error-reward_claims"' in too_many.text
        replaced = await console.post(
            campaign_path, form(template_id, title="改名了", max_packs="20")
        )
        assert replaced.status_code == 303, replaced.text
        campaign_id = campaign_path.rsplit("/", 1)[1]
        seen = await client.get(f"{m.merchant}/sharecoupon/campaigns/{campaign_id}", headers=m.auth)
        assert (seen.json()["title"], seen.json()["max_packs"]) == ("改名了", 20)
        assert seen.json()["one_per_campaign"] is True and seen.json()["reward"] is None

        stopped = await console.post(f"{campaign_path}/stop", {})
        assert stopped.status_code == 303
        seen = await client.get(f"{m.merchant}/sharecoupon/campaigns/{campaign_id}", headers=m.auth)
        assert seen.json()["status"] == "stopped"


async def test_clerks_read_other_stores_are_404_and_off_is_disabled(
    client: httpx.AsyncClient, rt: Runtime, fake_wechat: FakeWeChat, server: LiveServer
) -> None:
    store = await share_store(client, rt, fake_wechat)
    other = await share_store(client, rt, fake_wechat)
    m = store.merchant
    username, password = await staff_login(client, m, "clerk")
    async with signed_in(server.url, m, username, password) as console:
        assert (await console.get(f"sharecoupon/{store.campaign['id']}")).status_code == 200
        assert (await console.get("sharecoupon/new")).status_code == 403
        made = await console.post("sharecoupon/new", form(store.template["id"]))
        assert made.status_code == 403
    async with signed_in(server.url, m) as console:
        assert (await console.get(f"sharecoupon/{other.campaign['id']}")).status_code == 404
        assert (
            await console.post(f"sharecoupon/{other.campaign['id']}/stop", {})
        ).status_code == 404
        off = await client.post(f"{m.merchant}/plugins/sharecoupon/disable", headers=m.auth)
        assert off.status_code == 200, off.text
        assert (await console.get("sharecoupon")).status_code == 404
    seen = await client.get(
        f"{other.merchant.merchant}/sharecoupon/campaigns/{other.campaign['id']}",
        headers=other.merchant.auth,
    )
    assert seen.json()["status"] == "active"
