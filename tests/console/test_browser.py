"""The merchant console in a real headless Chromium against a real server process: signing
in, switching a plugin on and seeing the storefront answer change, a bad setting's inline
error, phone width, and signing out so that the back button shows nothing personal; and an
operator onboarding a merchant in the vendor console."""

from __future__ import annotations

from pathlib import Path

import httpx
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as when
from selenium.webdriver.support.ui import Select, WebDriverWait

from core.runtime import Runtime
from storeplug.testing import Merchant, onboard, unique_slug
from tests.console.conftest import AppProcess
from tests.console.operators import new_operator

WAIT_S = 15


def wait(browser: WebDriver) -> WebDriverWait[WebDriver]:
    return WebDriverWait(browser, WAIT_S)


def css(browser: WebDriver, selector: str) -> str:
    element = wait(browser).until(when.visibility_of_element_located((By.CSS_SELECTOR, selector)))
    return str(element.text)


def sign_in(browser: WebDriver, app: AppProcess, merchant: Merchant, password: str) -> None:
    browser.get(f"{app.url}/console/{merchant.slug}/")
    wait(browser).until(when.url_contains("/login"))
    browser.find_element(By.ID, "f-username").send_keys("owner")
    browser.find_element(By.ID, "f-password").send_keys(password)
    browser.find_element(By.CSS_SELECTOR, "[data-testid=sign-in]").click()


async def test_sign_in_toggle_a_plugin_fix_a_setting_and_sign_out(
    browser: WebDriver, app_process: AppProcess, shots: Path
) -> None:
    async with httpx.AsyncClient(base_url=app_process.url, timeout=30) as client:
        merchant = await onboard(client, plugins=("echo",))
        base = f"{app_process.url}/console/{merchant.slug}"

        browser.get(f"{base}/login")
        assert "登录" in css(browser, "h1") + browser.title
        browser.save_screenshot(str(shots / "console-sign-in.png"))
        # A wrong password: the form again, with the reason.
        browser.find_element(By.ID, "f-username").send_keys("owner")
        browser.find_element(By.ID, "f-password").send_keys("wrong password")
        browser.find_element(By.CSS_SELECTOR, "[data-testid=sign-in]").click()
        assert "用户名或密码错误" in css(browser, "[data-testid=form-error]")

        sign_in(browser, app_process, merchant, merchant.password)
        # The initial password leads to the account page first.
        assert "初始密码" in css(browser, "[data-testid=must-change]")
        browser.find_element(By.ID, "f-current_password").send_keys(merchant.password)
        browser.find_element(By.ID, "f-new_password").send_keys("my own password 1")
        browser.find_element(By.CSS_SELECTOR, "[data-testid=change-password]").click()
        assert "密码已修改" in css(browser, "[data-testid=form-notice]")

        browser.get(f"{base}/")
        assert css(browser, "[data-testid=gmv-1]") == "¥0.00"
        browser.save_screenshot(str(shots / "console-dashboard.png"))

        # Switch echo on: the card is swapped by htmx, and the storefront answers at once.
        assert (await client.get(f"/store/{merchant.slug}/v1/echo/hello")).status_code == 404
        browser.get(f"{base}/features")
        card = "[data-testid=plugin-echo]"
        assert css(browser, f"{card} [data-testid=state]") == "已关闭"
        browser.find_element(By.CSS_SELECTOR, f"{card} [data-testid=toggle]").click()
        wait(browser).until(
            when.text_to_be_present_in_element(
                (By.CSS_SELECTOR, f"{card} [data-testid=state]"), "已开启"
            )
        )
        hello = await client.get(f"/store/{merchant.slug}/v1/echo/hello")
        assert hello.status_code == 200 and hello.json()["greeting"] == "hello"
        assert "回声" in css(browser, ".sidenav")  # the plugin's navigation entry

        # A bad setting: the field's error inline, nothing saved.
        browser.find_element(By.CSS_SELECTOR, f"{card} details summary").click()
        count = browser.find_element(By.ID, "s-max_items")
        count.clear()
        count.send_keys("11")
        browser.find_element(By.CSS_SELECTOR, f"{card} [data-testid=save-settings]").click()
        assert css(browser, f"{card} [data-testid=error-max_items]") == "不能大于 10。"
        browser.save_screenshot(str(shots / "console-features.png"))
        greeting = browser.find_element(By.ID, "s-greeting")
        greeting.clear()
        greeting.send_keys("欢迎光临")
        count = browser.find_element(By.ID, "s-max_items")
        count.clear()
        count.send_keys("5")
        browser.find_element(By.CSS_SELECTOR, f"{card} [data-testid=save-settings]").click()
        assert css(browser, f"{card} [data-testid=form-notice]") == "已保存。"
        hello = await client.get(f"/store/{merchant.slug}/v1/echo/hello")
        assert hello.json()["greeting"] == "欢迎光临"

        # Phone width: the layout fits, the menu opens from its button.
        browser.set_window_size(390, 844)
        try:
            browser.get(f"{base}/")
            css(browser, "[data-testid=gmv-1]")
            fits = browser.execute_script(
                "return document.documentElement.scrollWidth <= window.innerWidth"
            )
            assert fits, "the dashboard scrolls sideways at phone width"
            assert not browser.find_element(By.CSS_SELECTOR, ".sidenav").is_displayed()
            browser.find_element(By.CSS_SELECTOR, ".menu-label").click()
            assert browser.find_element(By.CSS_SELECTOR, ".sidenav").is_displayed()
            browser.save_screenshot(str(shots / "console-phone.png"))
        finally:
            browser.set_window_size(1280, 900)

        # Sign out; the back button asks the server again and gets the sign-in page.
        browser.get(f"{base}/features")
        css(browser, card)
        browser.find_element(By.CSS_SELECTOR, "[data-testid=sign-out]").click()
        wait(browser).until(when.url_contains("/login"))
        browser.back()
        wait(browser).until(when.url_contains("/login"))
        source = browser.page_source
        assert "plugin-echo" not in source and "gmv-1" not in source
        assert "f-password" in source


async def test_an_operator_onboards_a_merchant_in_the_vendor_console(
    browser: WebDriver, app_process: AppProcess, rt: Runtime, shots: Path
) -> None:
    operator = await new_operator(rt)
    async with httpx.AsyncClient(base_url=app_process.url, timeout=30) as client:
        existing = await onboard(client)  # and its plan
    base = f"{app_process.url}/vendor/console"
    browser.get(f"{base}/tenants")
    wait(browser).until(when.url_contains("/vendor/console/login"))
    browser.find_element(By.ID, "f-username").send_keys(operator.username)
    browser.find_element(By.ID, "f-password").send_keys(operator.password)
    browser.find_element(By.CSS_SELECTOR, "[data-testid=sign-in]").click()
    css(browser, f"[data-testid=tenant-{existing.slug}]")

    browser.find_element(By.CSS_SELECTOR, "[data-testid=onboard-link]").click()
    slug = unique_slug("web")
    browser.find_element(By.ID, "f-slug").send_keys(slug)
    browser.find_element(By.ID, "f-name").send_keys("街角咖啡")
    Select(browser.find_element(By.ID, "f-plan")).select_by_value(existing.plan)
    browser.find_element(By.ID, "f-contact_phone").send_keys("13800000000")
    browser.find_element(By.CSS_SELECTOR, "[data-testid=onboard]").click()
    password = css(browser, "[data-testid=owner-password]")
    assert css(browser, "[data-testid=owner-username]") == "owner"
    browser.save_screenshot(str(shots / "vendor-onboarded.png"))

    # The owner signs in to the new store's console with it.
    browser.get(f"{app_process.url}/console/{slug}/login")
    browser.find_element(By.ID, "f-username").send_keys("owner")
    browser.find_element(By.ID, "f-password").send_keys(password)
    browser.find_element(By.CSS_SELECTOR, "[data-testid=sign-in]").click()
    assert "初始密码" in css(browser, "[data-testid=must-change]")
    # Each console keeps its own session: the operator is still signed in.
    browser.get(f"{base}/tenants/{slug}")
    assert css(browser, "[data-testid=status]") == "正常"
