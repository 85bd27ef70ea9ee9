"""`storeplug serve` starts several worker processes on PostgreSQL + Redis and answers."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import httpx
import pytest

from core.settings import Settings
from storeplug.testing import SECRET, VENDOR_TOKEN, free_port
from tests.conftest import TEST_PLUGINS


def test_serve_runs_workers(settings: Settings, backend: str) -> None:
    if backend != "postgres":
        pytest.skip("several workers need Redis to share caches and jobs")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("STOREPLUG_")}
    env.update(
        STOREPLUG_DATABASE_URL=settings.database_url,
        STOREPLUG_REDIS_URL=settings.redis_url,
        STOREPLUG_VENDOR_TOKEN=VENDOR_TOKEN,
        STOREPLUG_SECRET_KEY=SECRET,
        STOREPLUG_PLUGIN_MODULES=",".join(TEST_PLUGINS),
        STOREPLUG_WORKERS="2",
        STOREPLUG_PORT=str(port),
        STOREPLUG_LOG_LEVEL="WARNING",
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "storeplug.cli", "serve"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        ready = None
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
            while time.monotonic() < deadline:
                try:
                    ready = client.get("/readyz")
                    break
                except httpx.TransportError:
                    assert process.poll() is None, process.stderr and process.stderr.read()
                    time.sleep(0.2)
            assert ready is not None and ready.status_code == 200, ready and ready.text
            assert ready.json() == {"status": "ready", "database": "ok", "redis": "ok"}
            # uvicorn's supervisor spawns one process per worker.
            children = subprocess.run(
                ["pgrep", "-a", "-P", str(process.pid)], capture_output=True, text=True
            ).stdout.splitlines()
            workers = [line for line in children if "spawn_main" in line]
            assert len(workers) == 2, children
    finally:
        process.terminate()
        process.wait(timeout=30)
