"""The analytics page in headless Chromium, on the hand-computed data set: the range form,
the charts drawn, and the page at phone width."""

from __future__ import annotations

from pathlib import Path

import httpx
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By

from core.analytics import rfm
from core.runtime import Runtime
from storeplug.testing import onboard
from tests.analytics.support import seed
from tests.analytics.test_figures import roll_all
from tests.console.conftest import AppProcess, settled
from tests.console.test_browser import css, sign_in


async def test_the_analytics_page_in_a_browser(
    browser: WebDriver, app_process: AppProcess, shots: Path, rt: Runtime
) -> None:
    async with httpx.AsyncClient(base_url=app_process.url, timeout=30) as client:
        merchant = await onboard(client)
    fx = await seed(rt, merchant)
    await roll_all(rt, fx)
    async with rt.tenant_context(await rt.tenants.resolve(merchant.slug)) as ctx:
        await rfm.recompute(ctx)
    await settled(rt)
    base = f"{app_process.url}/console/{merchant.slug}"
    sign_in(browser, app_process, merchant, merchant.password)
    css(browser, "[data-testid=must-change]")
    browser.find_element(By.ID, "f-current_password").send_keys(merchant.password)
    browser.find_element(By.ID, "f-new_password").send_keys("my own password 1")
    browser.find_element(By.CSS_SELECTOR, "[data-testid=change-password]").click()
    css(browser, "[data-testid=form-notice]")

    browser.get(f"{base}/analytics")
    # The range form, filled in and sent as a person would.
    for field, value in (("f-start", "2025-09-01"), ("f-end", "2025-10-30")):
        browser.execute_script(
            "document.getElementById(arguments[0]).value = arguments[1]", field, value
        )
    browser.find_element(By.CSS_SELECTOR, "[data-testid=range-form] button").click()
    assert css(browser, "[data-testid=total-gmv]") == "¥1,115.00"
    assert css(browser, "[data-testid=total-orders]") == "13"
    assert css(browser, "[data-testid=funnel-visitors]") == "9"
    bars = browser.find_elements(By.CSS_SELECTOR, "[data-testid=chart-gmv] rect.bar")
    assert len(bars) == 60 and max(float(b.get_attribute("height") or 0) for b in bars) > 100
    assert "重要保持客户" in css(browser, "[data-testid=segments]")
    browser.save_screenshot(str(shots / "console-analytics.png"))

    browser.set_window_size(390, 844)
    try:
        browser.get(f"{base}/analytics?start=2025-09-01&end=2025-10-30&shown=1&compare=1")
        css(browser, "[data-testid=total-gmv]")
        fits = browser.execute_script(
            "return document.documentElement.scrollWidth <= window.innerWidth"
        )
        assert fits, "the analytics page scrolls sideways at phone width"
    finally:
        browser.set_window_size(1280, 900)
