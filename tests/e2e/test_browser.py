"""The dashboard in a real browser against the real stack: log in, link a sandbox session, send.

Needs the system Chromium and the `gateway_stack` fixture (gunicorn, backend worker, node agent).
A failure leaves a screenshot under test-artifacts/; a passing run leaves one of the QR page.
"""

import re
from pathlib import Path

import pytest

from tests.factories import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
EMAIL = "browser@example.com"
TIMEOUT_MS = 30_000


def _screenshot(page, name):
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def _link_sandbox_session_and_send(page, base_url):
    from playwright.sync_api import expect

    page.goto(f"{base_url}/login")
    page.fill("#id_email", EMAIL)
    page.fill("#id_password", PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{base_url}/")
    expect(page.locator("header")).to_contain_text(EMAIL)

    page.fill("#id_name", "Browser session")
    page.select_option("#id_engine", "sandbox")
    page.get_by_role("button", name="Create session").click()
    expect(page).to_have_url(re.compile(rf"{re.escape(base_url)}/sessions/ses_\w+$"))
    expect(page.locator("#session-status")).to_contain_text("Disconnected")

    page.check("input[name=method][value=qr]")
    page.click("#connect")
    qr = page.locator("#qr-image")
    expect(qr).to_be_visible(timeout=TIMEOUT_MS)
    assert qr.get_attribute("src").startswith("data:image/png;base64,")
    countdown = page.locator(".countdown-value")
    expect(countdown).to_have_text(re.compile(r"^[1-9]\d*$"))
    first = int(countdown.inner_text())
    page.wait_for_timeout(1500)  # the countdown keeps ticking (and survives the 1 s polls)
    assert int(countdown.inner_text()) < first
    _screenshot(page, "dashboard-session-qr")

    page.click("#sandbox-scan")
    expect(page.locator("#session-status")).to_contain_text("Connected", timeout=TIMEOUT_MS)
    expect(page.locator("#qr-image")).to_have_count(0)

    page.fill("#id_send-to", "+1 555 000 2222")
    page.fill("#id_send-text", "Hello from the browser test")
    page.get_by_role("button", name="Send", exact=True).click()
    expect(page.locator("#message-status .mbadge")).to_have_text("read", timeout=TIMEOUT_MS)
    expect(page.locator("#recent-messages")).to_contain_text("+15550002222")

    # The same pages at phone width, for a look by eye.
    page.set_viewport_size({"width": 390, "height": 844})
    _screenshot(page, "dashboard-session-connected-phone")
    page.goto(f"{base_url}/")
    expect(page.locator("#session-rows")).to_contain_text("Connected")
    _screenshot(page, "dashboard-sessions-phone")


def test_log_in_link_a_sandbox_session_and_send(gateway_stack):
    if not CHROMIUM.exists():
        pytest.skip("needs the system Chromium at /usr/bin/chromium")
    from playwright.sync_api import sync_playwright

    # The user is written before Playwright starts: its event loop would make Django refuse
    # ORM calls from this thread.
    gateway_stack.create_user(EMAIL, PASSWORD)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 900})
            page.set_default_timeout(10_000)
            try:
                _link_sandbox_session_and_send(page, gateway_stack.base_url)
            except BaseException:
                print(f"screenshot: {_screenshot(page, 'dashboard-browser-failure')}")
                raise
        finally:
            browser.close()
