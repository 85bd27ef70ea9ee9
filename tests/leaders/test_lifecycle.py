"""Leaders from application to the end: the pickup dependency, applying, the merchant's
review (approving opens the leader's pickup point with the leader as its verifier),
rejecting with a reason, suspending, reinstating and ending, levels, and who may do what."""

from __future__ import annotations

import httpx

from core.runtime import Runtime
from storeplug.testing import enable, ensure_plan, make_member, new_staff, onboard, problem
from tests.leaders.support import (
    HOME,
    PLAN,
    PLUGINS,
    apply,
    decide,
    leaders_store,
    new_leader,
)


async def test_leaders_needs_pickup_on(client: httpx.AsyncClient) -> None:
    await ensure_plan(client, PLAN, list(PLUGINS))
    merchant = await onboard(client, plan=PLAN, plugins=PLUGINS)
    body = problem(await enable(client, merchant, "leaders"), 409, "plugin.requires_plugin")
    assert body["errors"] == [{"field": "requires", "message": "pickup"}]
    assert "pickup" in body["detail"]
    problem(await client.get(f"{merchant.store}/leaders/{'A' * 26}"), 404, "plugin.disabled")

    assert (await enable(client, merchant, "pickup")).status_code == 200
    assert (await enable(client, merchant, "leaders")).status_code == 200
    off = await client.post(f"{merchant.merchant}/plugins/pickup/disable", headers=merchant.auth)
    body = problem(off, 409, "plugin.required_by_plugin")
    assert body["errors"] == [{"field": "required_by", "message": "leaders"}]


async def test_apply_approve_opens_a_pickup_point_the_leader_verifies_at(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    merchant = await leaders_store(client, point_opens="09:00", point_closes="20:00")
    member = await make_member(rt, merchant, nickname="张姐")
    problem(
        await client.get(f"{merchant.store}/leaders/me", headers=member.auth),
        404,
        "leaders.not_applied",
    )

    applied = await apply(client, merchant, member)
    assert applied.status_code == 200, applied.text
    mine = applied.json()
    assert (mine["status"], mine["point"], mine["share"]) == ("applied", None, None)
    problem(await apply(client, merchant, member), 409, "leaders.already_applied")

    queue = await client.get(
        f"{merchant.merchant}/leaders/", params={"status": "applied"}, headers=merchant.auth
    )
    assert [row["id"] for row in queue.json()["items"]] == [mine["id"]]
    assert queue.json()["items"][0]["stats"] == {"buyers": 0, "orders": 0, "gmv": 0}

    clerk = await new_staff(client, merchant, "clerk")
    refused = await client.post(
        f"{merchant.merchant}/leaders/{mine['id']}/approve", json={}, headers=clerk.auth
    )
    problem(refused, 403, "auth.role_required")
    problem(
        await decide(client, merchant, mine["id"], "approve", {"level": "gold"}),
        422,
        "leaders.unknown_level",
    )

    approved = await decide(client, merchant, mine["id"], "approve")
    assert approved.status_code == 200, approved.text
    leader = approved.json()
    assert (leader["status"], leader["level"]) == ("active", "standard")
    point_id = leader["point_id"]
    point = await client.get(f"{merchant.merchant}/pickup/points/{point_id}", headers=merchant.auth)
    assert point.status_code == 200, point.text
    shown = point.json()
    assert shown["verifier_member_ids"] == [member.id] and shown["status"] == "active"
    assert shown["address"] == "幸福里小区 3 栋 101 便利店"
    assert shown["hours"] == [[["09:00", "20:00"]]] * 7
    nearby = await client.get(
        f"{merchant.store}/pickup/points", params={"lat": HOME[0], "lng": HOME[1]}
    )
    assert [p["id"] for p in nearby.json()["items"]] == [point_id]
    problem(await decide(client, merchant, mine["id"], "approve"), 409, "leaders.wrong_status")

    me = (await client.get(f"{merchant.store}/leaders/me", headers=member.auth)).json()
    assert me["status"] == "active" and me["point"]["id"] == point_id
    assert me["level_name"] == "团长"
    assert me["share"] == {
        "path": f"pages/index/index?leader={leader['id']}",
        "page": "pages/index/index",
        "scene": f"l={leader['id']}",
        "source": "leader",
        "source_ref": leader["id"],
    }
    assert len(me["share"]["scene"]) <= 32
    card = await client.get(f"{merchant.store}/leaders/{leader['id']}")
    assert card.status_code == 200, card.text
    assert card.json()["point"]["id"] == point_id and "phone" not in card.json()


async def test_rejected_applicants_may_apply_again(client: httpx.AsyncClient, rt: Runtime) -> None:
    merchant = await leaders_store(client)
    member = await make_member(rt, merchant)
    leader_id = (await apply(client, merchant, member)).json()["id"]
    problem(
        await decide(client, merchant, leader_id, "reject", {"reason": ""}), 400, "request.invalid"
    )
    rejected = await decide(client, merchant, leader_id, "reject", {"reason": "照片看不清"})
    assert rejected.status_code == 200, rejected.text
    me = (await client.get(f"{merchant.store}/leaders/me", headers=member.auth)).json()
    assert (me["status"], me["reason"]) == ("rejected", "照片看不清")
    problem(
        await client.get(f"{merchant.store}/leaders/{leader_id}"), 404, "leaders.leader_not_found"
    )

    again = await apply(client, merchant, member, photo_url="https://img.example/clear.jpg")
    assert again.status_code == 200, again.text
    assert (again.json()["id"], again.json()["status"], again.json()["reason"]) == (
        leader_id,
        "applied",
        "",
    )


async def test_suspend_reinstate_and_end_open_and_close_the_point(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    merchant = await leaders_store(
        client,
        levels=[
            {"code": "standard", "name": "团长", "commission_bp": 1000},
            {"code": "gold", "name": "金牌团长", "commission_bp": 1500},
        ],
    )
    leader = await new_leader(client, rt, merchant)

    async def point() -> dict[str, object]:
        found = await client.get(
            f"{merchant.merchant}/pickup/points/{leader.point_id}", headers=merchant.auth
        )
        body: dict[str, object] = found.json()
        return body

    problem(await decide(client, merchant, leader.id, "reinstate"), 409, "leaders.wrong_status")
    suspended = await decide(client, merchant, leader.id, "suspend", {"reason": "投诉"})
    assert suspended.status_code == 200, suspended.text
    assert suspended.json()["reason"] == "投诉"
    assert (await point())["status"] == "inactive" and (await point())["verifier_member_ids"] == []
    problem(
        await client.get(f"{merchant.store}/leaders/{leader.id}"), 404, "leaders.leader_not_found"
    )
    me = (await client.get(f"{merchant.store}/leaders/me", headers=leader.auth)).json()
    assert me["status"] == "suspended" and me["share"] is None

    reinstated = await decide(client, merchant, leader.id, "reinstate")
    assert reinstated.json()["status"] == "active"
    assert (await point())["status"] == "active"
    assert (await point())["verifier_member_ids"] == [leader.member.id]

    level = await client.put(
        f"{merchant.merchant}/leaders/{leader.id}/level",
        json={"level": "gold"},
        headers=merchant.auth,
    )
    assert level.json()["level"] == "gold"
    me = (await client.get(f"{merchant.store}/leaders/me", headers=leader.auth)).json()
    assert me["level_name"] == "金牌团长"

    ended = await decide(client, merchant, leader.id, "end", {"reason": "搬家"})
    assert ended.json()["status"] == "ended"
    assert (await point())["status"] == "inactive"
    problem(await decide(client, merchant, leader.id, "reinstate"), 409, "leaders.wrong_status")
    problem(
        await decide(client, merchant, leader.id, "end", {"reason": "x"}),
        409,
        "leaders.wrong_status",
    )
    problem(await apply(client, merchant, leader.member), 409, "leaders.already_applied")


async def test_settings_are_checked(client: httpx.AsyncClient) -> None:
    await ensure_plan(client, PLAN, list(PLUGINS))
    merchant = await onboard(client, plan=PLAN, plugins=PLUGINS)
    assert (await enable(client, merchant, "pickup")).status_code == 200
    for bad in (
        {"default_level": "gold"},
        {"point_opens": "20:00", "point_closes": "20:30"},
        {"levels": [{"code": "a", "name": "A", "commission_bp": 10_001}]},
        {"binding_rule": "random"},
    ):
        body = problem(
            await enable(client, merchant, "leaders", bad), 422, "plugin.invalid_settings"
        )
        assert body["errors"], body
