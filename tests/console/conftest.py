"""Fixtures of the browser tests: the app as a real server process (``uvicorn --factory
storeplug.asgi:create``) on the test database, and Debian's headless Chromium driven by
Selenium through Debian's chromedriver (given explicitly, so Selenium Manager never runs and
nothing is downloaded)."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import msgspec
import pytest

from core.jobs import InProcessQueue
from core.runtime import Runtime
from core.settings import PREFIX, Settings
from storeplug.testing import IN_CI, free_port

if TYPE_CHECKING:
    from selenium.webdriver.chrome.webdriver import WebDriver

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("STOREPLUG_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("STOREPLUG_TEST_CHROMEDRIVER", "/usr/bin/chromedriver")
# Where the browser tests leave their screenshots: docs/img to refresh the docs' pictures
# (``STOREPLUG_SCREENSHOTS=docs/img``), else the test's temporary folder.
SCREENSHOTS = os.environ.get("STOREPLUG_SCREENSHOTS", "")


def settings_env(settings: Settings, **overrides: object) -> dict[str, str]:
    """The environment that makes ``load_settings()`` in a child process equal ``settings``."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(PREFIX)}
    values = {**msgspec.structs.asdict(settings), **overrides}
    for name, value in values.items():
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, tuple | list):
            text = ",".join(value)
        else:
            text = str(value)
        env[PREFIX + name.upper()] = text
    return env


@dataclass
class AppProcess:
    url: str


@pytest.fixture(scope="session")
async def app_process(
    settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[AppProcess]:
    """One real server process of the app, on the same database (and Redis) as the tests."""
    port = free_port()
    log_path = tmp_path_factory.mktemp("app") / "server.log"
    env = settings_env(settings, port=port, public_url=f"http://127.0.0.1:{port}", workers=1)
    with log_path.open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            *("-m", "uvicorn", "--factory", "storeplug.asgi:create"),
            *("--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"),
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=url) as http, asyncio.timeout(60):
            while True:
                if process.returncode is not None:
                    pytest.fail(f"the app process exited: {log_path.read_text()}")
                try:
                    if (await http.get("/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    await asyncio.sleep(0.1)
        yield AppProcess(url=url)
    finally:
        if process.returncode is None:
            process.terminate()
        try:
            async with asyncio.timeout(15):
                await process.wait()
        except TimeoutError:
            process.kill()
            await process.wait()


@pytest.fixture(scope="session")
def chromium(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDriver]:
    """Headless Chromium with a fresh profile, in Chinese; one for the whole session."""
    if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
        message = f"needs {CHROMIUM} and {CHROMEDRIVER} (apt-get install chromium chromium-driver)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--lang=zh-CN",
        "--window-size=1280,900",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
    ):
        options.add_argument(flag)
    options.add_experimental_option("prefs", {"intl.accept_languages": "zh-CN,zh"})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


async def settled(rt: Runtime) -> None:
    """Let the test process's in-process jobs finish before a blocking browser call: a job
    suspended inside a transaction would hold SQLite's write lock while Selenium blocks the
    loop, and the app process would wait on it."""
    if isinstance(rt.jobs, InProcessQueue):
        await rt.jobs.drain(15)


@pytest.fixture
async def browser(chromium: WebDriver, rt: Runtime) -> AsyncIterator[WebDriver]:
    """The session's browser, with the test process's scheduled jobs paused for the test
    (see ``settled``): the browser's calls block this process's event loop."""
    quiet = rt.jobs.quiet() if isinstance(rt.jobs, InProcessQueue) else nullcontext()
    async with quiet:
        yield chromium


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    folder = ROOT / SCREENSHOTS if SCREENSHOTS else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    return folder
