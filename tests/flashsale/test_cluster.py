"""The Lua scripts on a real Redis Cluster: three masters started on loopback ports for this
module. Every key of one activity hashes to one slot (the ``{fs:<tenant>:<activity>}`` tag)
and every script gets its keys through KEYS, so they run unchanged; a script given keys of
two slots is refused by the cluster, which the last test shows is a real check."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from redis.asyncio.cluster import RedisCluster
from redis.crc import key_slot
from redis.exceptions import RedisClusterException, ResponseError

from core.errors import AppError
from plugins.flashsale import ratelimit
from plugins.flashsale.redis_stock import RedisStock, State, hold_value, keys_for
from plugins.flashsale.schemas import FlashSaleSettings
from storeplug.testing import free_port

NOW = 1_800_000_000_000  # epoch ms inside the test activity's window
META: dict[str, str | int] = {"status": "running", "starts": NOW - 1000, "ends": NOW + 60_000}


def _cluster_port() -> int:
    """A free port whose cluster bus port (port + 10000) is free as well."""
    while True:
        port = free_port()
        if port + 10000 > 65535:
            continue
        with socket.socket() as bus:
            try:
                bus.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        return port


def _start_cluster(base: Path, nodes: list[subprocess.Popen[bytes]]) -> list[int]:
    ports = [_cluster_port() for _ in range(3)]
    for port in ports:
        folder = base / str(port)
        folder.mkdir()
        nodes.append(
            subprocess.Popen(
                [
                    "redis-server",
                    "--port", str(port),
                    "--bind", "127.0.0.1",
                    "--cluster-enabled", "yes",
                    "--cluster-config-file", str(folder / "nodes.conf"),
                    "--dir", str(folder),
                    "--save", "",
                    "--appendonly", "no",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )  # fmt: skip
    for port in ports:
        for _ in range(100):
            ping = subprocess.run(
                ["redis-cli", "-p", str(port), "ping"], capture_output=True, check=False
            )
            if ping.stdout.strip() == b"PONG":
                break
            time.sleep(0.05)
    create = subprocess.run(
        [
            "redis-cli",
            "--cluster",
            "create",
            *(f"127.0.0.1:{p}" for p in ports),
            "--cluster-replicas",
            "0",
            "--cluster-yes",
        ],
        capture_output=True,
        check=False,
        timeout=60,
    )
    assert create.returncode == 0, create.stdout + create.stderr
    return ports


@pytest.fixture(scope="module")
def cluster_ports(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[int]]:
    if shutil.which("redis-server") is None or shutil.which("redis-cli") is None:
        pytest.fail("redis-server and redis-cli are needed for the Redis Cluster test")
    nodes: list[subprocess.Popen[bytes]] = []
    try:
        yield _start_cluster(tmp_path_factory.mktemp("redis-cluster"), nodes)
    finally:
        for node in nodes:
            node.terminate()
        for node in nodes:
            node.wait(timeout=10)


@pytest.fixture
async def cluster(cluster_ports: list[int]) -> AsyncIterator[RedisCluster]:
    client = RedisCluster(host="127.0.0.1", port=cluster_ports[0])
    for _ in range(100):  # the cluster agrees on its slots a moment after create
        try:
            if (await client.cluster_info()).get("cluster_state") == "ok":
                break
        except RedisClusterException:
            pass
        await asyncio.sleep(0.05)
    yield client
    await client.aclose()


def test_every_key_of_an_activity_shares_one_slot() -> None:
    keys = keys_for("01TENANTTENANTTENANTTENANT", "01ACTIVITYACTIVITYACTIVITY")
    slots = {key_slot(key.encode()) for key in [*keys.state, keys.lock]}
    assert len(slots) == 1
    assert all(
        "{fs:01TENANTTENANTTENANTTENANT:01ACTIVITYACTIVITYACTIVITY}" in k for k in keys.state
    )


async def test_scripts_run_on_a_three_master_cluster(cluster: RedisCluster) -> None:
    masters = [n for n in cluster.get_nodes() if n.server_type == "primary"]
    assert len(masters) == 3
    stock = RedisStock(cluster)
    spread = [keys_for("t1", f"a{i}") for i in range(12)]
    owners = {getattr(cluster.get_node_from_key(k.meta), "name", "") for k in spread}
    assert len(owners) > 1  # the activities live on different masters
    for keys in spread:
        state = State(
            meta={**META, "member_limit": 1, "order_limit": 1},
            stock={"sku": 2},
        )
        assert await stock.load(keys, state, ttl_s=60, force=True)
        assert await stock.take(keys, "sku", "m1", 1, NOW, "tok1") == "ok"
        assert await stock.take(keys, "sku", "m1", 1, NOW, "tok1") == "held"
        assert await stock.take(keys, "sku", "m1", 1, NOW, "tok2") == "limit"
        assert await stock.take(keys, "sku", "m2", 1, NOW, "tok3") == "ok"
        assert await stock.take(keys, "sku", "m3", 1, NOW, "tok4") == "sold_out"
        assert await stock.take(keys, "sku", "m3", 1, NOW - 5000, "tok4") == "not_started"
        assert await stock.take(keys, "sku", "m3", 1, NOW + 60_000, "tok4") == "ended"
        assert await stock.take(keys, "nope", "m3", 1, NOW, "tok4") == "no_sku"
        assert await stock.take(keys, "sku", "m3", 2, NOW, "tok4") == "order_limit"
        assert await stock.release(keys, "tok1") == 1
        assert await stock.release(keys, "tok1") == 0  # once
        assert await stock.snapshot(keys) == ({"sku": 1}, {"m1": 0, "m2": 1})
        rebuilt = State(
            meta={**META, "member_limit": 1, "order_limit": 1},
            stock={"sku": 1},
            members={"m2": 1},
            holds={"tok3": hold_value("sku", 1, "m2")},
        )
        assert not await stock.load(keys, rebuilt, ttl_s=60, force=False)  # keys exist
        await cluster.delete(*keys.state)
        assert await stock.take(keys, "sku", "m4", 1, NOW, "tok5") == "missing"
        assert await stock.load(keys, rebuilt, ttl_s=60, force=False)
        assert await stock.lock(keys) and not await stock.lock(keys)
        await stock.unlock(keys)
        assert await stock.take(keys, "sku", "m4", 1, NOW, "tok5") == "ok"
        assert await stock.snapshot(keys) == ({"sku": 0}, {"m2": 1, "m4": 1})


async def test_rate_limit_keys_share_the_tenants_slot(cluster: RedisCluster) -> None:
    settings = FlashSaleSettings(buys_per_member=1)
    await ratelimit.check(cluster, "t9", "m1", "10.0.0.1", settings)
    with pytest.raises(AppError) as refused:
        await ratelimit.check(cluster, "t9", "m1", "10.0.0.1", settings)
    assert refused.value.code == "flashsale.rate_limited"


async def test_a_script_with_keys_of_two_slots_is_refused(cluster: RedisCluster) -> None:
    one, two = keys_for("t1", "a1"), keys_for("t1", "a2")
    assert key_slot(one.stock.encode()) != key_slot(two.stock.encode())
    script = cluster.register_script("return redis.call('EXISTS', KEYS[1], KEYS[2])")
    with pytest.raises((RedisClusterException, ResponseError)):
        await script(keys=[one.stock, two.stock])
