"""A plugin toggle, a settings change and a suspension made through one server process are
seen by another process on its very next request (PostgreSQL + Redis)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest

from core.settings import Settings
from storeplug.testing import SECRET, VENDOR, VENDOR_TOKEN, enable, free_port, onboard, problem
from tests.test_plugins import hello

ROOT = Path(__file__).resolve().parent.parent

# SAQ 0.26 calls redis-py's deprecated setex; not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore:Call to deprecated setex:DeprecationWarning")


# ---- across processes --------------------------------------------------------------------


@asynccontextmanager
async def server_processes(
    settings: Settings, count: int, log_dir: Path
) -> AsyncIterator[list[httpx.AsyncClient]]:
    """``count`` real uvicorn processes of the app on one database and Redis."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("STOREPLUG_")}
    env.update(
        STOREPLUG_DATABASE_URL=settings.database_url,
        STOREPLUG_MIGRATION_DATABASE_URL=settings.migration_database_url,
        STOREPLUG_REDIS_URL=settings.redis_url,
        STOREPLUG_PLUGIN_MODULES="tests.plugins.echo.plugin",
        STOREPLUG_VENDOR_TOKEN=VENDOR_TOKEN,
        STOREPLUG_SECRET_KEY=SECRET,
        STOREPLUG_LOG_LEVEL="WARNING",
    )
    processes: list[asyncio.subprocess.Process] = []
    clients: list[httpx.AsyncClient] = []
    logs: list[Path] = []
    try:
        for i in range(count):
            port = free_port()
            logs.append(log_dir / f"server{i}.log")
            with logs[-1].open("wb") as log:
                processes.append(
                    await asyncio.create_subprocess_exec(
                        sys.executable,
                        "-m",
                        "uvicorn",
                        "--factory",
                        "storeplug.asgi:create",
                        "--host",
                        "127.0.0.1",
                        "--port",
                        str(port),
                        "--log-level",
                        "warning",
                        cwd=ROOT,
                        env=env,
                        stdout=subprocess.DEVNULL,
                        stderr=log,
                    )
                )
            clients.append(httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30))
        for process, http, log_path in zip(processes, clients, logs, strict=True):
            async with asyncio.timeout(60):
                while True:
                    if process.returncode is not None:
                        pytest.fail(f"server exited: {log_path.read_text()}")
                    try:
                        if (await http.get("/healthz")).status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    await asyncio.sleep(0.1)
        yield clients
    finally:
        for http in clients:
            await http.aclose()
        for process in processes:
            if process.returncode is None:
                process.terminate()
        for process in processes:
            try:
                async with asyncio.timeout(15):
                    await process.wait()
            except TimeoutError:
                process.kill()
                await process.wait()


async def test_toggles_reach_another_process_on_its_next_request(
    settings: Settings, backend: str, tmp_path: Path
) -> None:
    if backend == "sqlite":
        pytest.skip("needs Redis to share invalidation across processes")
    async with server_processes(settings, 2, tmp_path) as (one, two):
        merchant = await onboard(one)
        # Process two resolves the tenant now and keeps it in its cache.
        problem(await hello(two, merchant), 404, "plugin.disabled")
        problem(await hello(two, merchant), 404, "plugin.disabled")

        assert (await enable(one, merchant, "echo", {"greeting": "from one"})).status_code == 200
        response = await hello(two, merchant)
        assert response.status_code == 200, response.text
        assert response.json()["greeting"] == "from one"

        put = await one.put(
            f"{merchant.merchant}/plugins/echo/settings",
            json={"settings": {"greeting": "changed"}},
            headers=merchant.auth,
        )
        assert put.status_code == 200, put.text
        assert (await hello(two, merchant)).json()["greeting"] == "changed"

        disable = await one.post(f"{merchant.merchant}/plugins/echo/disable", headers=merchant.auth)
        assert disable.status_code == 200, disable.text
        problem(await hello(two, merchant), 404, "plugin.disabled")

        assert (await enable(one, merchant, "echo")).status_code == 200
        assert (await hello(two, merchant)).json()["greeting"] == "changed"

        suspend = await one.post(f"/vendor/v1/tenants/{merchant.slug}/suspend", headers=VENDOR)
        assert suspend.status_code == 200, suspend.text
        problem(await hello(two, merchant), 403, "tenant.suspended")
        problem(await two.get(f"{merchant.store}/store"), 403, "tenant.suspended")

        resume = await one.post(f"/vendor/v1/tenants/{merchant.slug}/resume", headers=VENDOR)
        assert resume.status_code == 200, resume.text
        assert (await hello(two, merchant)).status_code == 200
