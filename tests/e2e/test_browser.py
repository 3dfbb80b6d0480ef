"""The dashboard in a real browser against the real stack: log in, link a sandbox session, send;
see the traffic (message log, live events, delivery log); keys; the not-answering banner.

Needs the system Chromium and the `gateway_stack` fixture (gunicorn, backend worker, node agent).
A failure leaves a screenshot under test-artifacts/; a passing run leaves one of the QR page.
"""

import contextlib
import re
import signal
from pathlib import Path

import pytest

from tests.e2e.stack import wait_for
from tests.factories import PASSWORD
from tests.sessions_app.webhooks.receiver import Receiver

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
    page.bring_to_front()  # a page behind another tab never paints
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


@contextlib.contextmanager
def logged_in_page(stack, name):
    """A Chromium page logged in as EMAIL on `stack`; a failure leaves screenshot `name`."""
    if not CHROMIUM.exists():
        pytest.skip("needs the system Chromium at /usr/bin/chromium")
    from playwright.sync_api import expect, sync_playwright

    # The user is written before Playwright starts: its event loop would make Django refuse
    # ORM calls from this thread.
    stack.create_user(EMAIL, PASSWORD)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1100, "height": 900})
            page = context.new_page()
            page.set_default_timeout(10_000)
            # Every page must load under the Content-Security-Policy: Chromium logs each refusal.
            violations = []
            page.on(
                "console",
                lambda msg: "Content Security Policy" in msg.text and violations.append(msg.text),
            )
            try:
                page.goto(f"{stack.base_url}/login")
                page.fill("#id_email", EMAIL)
                page.fill("#id_password", PASSWORD)
                page.get_by_role("button", name="Log in").click()
                expect(page).to_have_url(f"{stack.base_url}/")
                expect(page.locator("header")).to_contain_text(EMAIL)
                yield page
                assert not violations, violations
            except BaseException:
                try:
                    print(f"screenshot: {_screenshot(page, f'{name}-failure')}")
                except Exception as exc:  # the page itself may be what hangs
                    print(f"no screenshot: {exc}")
                raise
        finally:
            browser.close()


def _create_linked_sandbox_session(page, base_url, name="Browser session"):
    from playwright.sync_api import expect

    page.goto(f"{base_url}/")
    page.fill("#id_name", name)
    page.select_option("#id_engine", "sandbox")
    page.get_by_role("button", name="Create session").click()
    expect(page).to_have_url(re.compile(rf"{re.escape(base_url)}/sessions/ses_\w+$"))
    page.check("input[name=method][value=qr]")
    page.click("#connect")
    page.click("#sandbox-scan", timeout=TIMEOUT_MS)
    expect(page.locator("#session-status")).to_contain_text("Connected", timeout=TIMEOUT_MS)
    return page.url.rsplit("/", 1)[1]


def _simulate_incoming(page, text):
    page.fill("#id_incoming-sender", "+1 555 000 3333")
    page.fill("#id_incoming-text", text)
    page.get_by_role("button", name="Simulate").click()


def _link_sandbox_session_and_send(page, base_url):
    from playwright.sync_api import expect

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
    from playwright.sync_api import expect

    with logged_in_page(gateway_stack, "dashboard-browser") as page:
        _link_sandbox_session_and_send(page, gateway_stack.base_url)
        # The Usage page counts the message and draws its 30-day chart with the vendored uPlot.
        errors = []
        page.on("pageerror", lambda error: errors.append(error))
        page.get_by_role("link", name="Usage").click()
        expect(page.locator("#usage-chart")).to_have_attribute("data-drawn", "30")
        expect(page.locator("#usage-chart canvas")).to_have_count(1)
        expect(page.locator("#usage-sessions tbody tr")).to_contain_text("Browser session")
        assert not errors
        _screenshot(page, "dashboard-usage")


@pytest.fixture
def webhook_receiver():
    receiver = Receiver().start()
    yield receiver
    receiver.stop()


def test_the_traffic_shows_in_the_message_log_the_event_monitor_and_the_delivery_log(
    gateway_stack, webhook_receiver
):
    from playwright.sync_api import expect

    base = gateway_stack.base_url
    # The web again, told where the event stream is (on another port, as with `make run`).
    gateway_stack.env["PUBLIC_URL"] = base  # the stream lets the dashboard's origin in
    gateway_stack.env["STREAM_URL"] = gateway_stack.start_stream()
    gateway_stack.stop("web")
    gateway_stack.start_web()
    gateway_stack.wait_ready()
    with logged_in_page(gateway_stack, "dashboard-traffic") as page:
        session_id = _create_linked_sandbox_session(page, base)

        # The live event monitor, open in a tab of its own, learns of an event from the live
        # stream (with the dashboard's login, across origins) and shows it at once: well before
        # its fallback poll of every 10 s.
        monitor = page.context.new_page()
        monitor.goto(f"{base}/events")
        expect(monitor.locator("#no-events")).to_be_visible()
        stream = monitor.locator("#event-stream")
        expect(stream).to_have_attribute("data-connected", "1", timeout=TIMEOUT_MS)
        page.bring_to_front()
        _simulate_incoming(page, "Hello, is the shop open?")
        monitor.bring_to_front()
        row = monitor.locator(".event-row", has_text="message.received")
        expect(row).to_have_count(1, timeout=6000)
        row.locator("summary").click()
        expect(row.locator("pre")).to_contain_text('"text": "Hello, is the shop open?"')
        expect(monitor.locator("#no-events")).to_be_hidden()

        # The message log has it, incoming, and finds it by a word.
        page.goto(f"{base}/sessions/{session_id}/log")
        log = page.locator("#log-rows")
        expect(log).to_contain_text("Hello, is the shop open?", timeout=TIMEOUT_MS)
        expect(log.locator("tr.dir-in")).to_have_count(1)
        expect(log).to_contain_text("15550003333")
        page.fill("#id_q", "SHOP")
        page.get_by_role("button", name="Search").click()
        expect(log.locator("tr.dir-in")).to_have_count(1)
        page.fill("#id_q", "nothing like it")
        page.get_by_role("button", name="Search").click()
        expect(log).to_contain_text("No messages match")

        # A webhook: a test event and an incoming message reach it; the log filters them.
        page.goto(f"{base}/webhooks")
        page.fill("#id_url", webhook_receiver.url + "/hook")
        page.get_by_role("button", name="Add webhook").click()
        expect(page.locator(".secret-box")).to_be_visible()
        page.get_by_role("link", name="Deliveries").click()
        page.get_by_role("button", name="Send test event").click()
        expect(page.locator(".flash")).to_contain_text("Test event sent")
        deliveries_url = page.url
        page.goto(f"{base}/sessions/{session_id}")
        _simulate_incoming(page, "Second message")
        wait_for(lambda: len(webhook_receiver.requests) == 2, timeout_s=30, what="two deliveries")
        page.goto(deliveries_url)
        rows = page.locator(".delivery-row")
        expect(rows).to_have_count(2)
        page.select_option("#id_type", "webhook.test")
        page.get_by_role("button", name="Filter").click()
        expect(rows).to_have_count(1)
        expect(rows.first).to_have_attribute("data-type", "webhook.test")
        page.select_option("#id_type", "message.received")
        page.get_by_role("button", name="Filter").click()
        expect(rows).to_have_count(1)
        rows.first.locator("summary").first.click()
        expect(rows.first.locator("pre").first).to_contain_text("Second message")
        _screenshot(page, "dashboard-deliveries")


def test_reloading_after_creating_a_key_makes_no_second_key(gateway_stack):
    from playwright.sync_api import expect

    with logged_in_page(gateway_stack, "dashboard-keys") as page:
        page.goto(f"{gateway_stack.base_url}/api-keys")
        page.fill("#id_name", "CI")
        page.get_by_role("button", name="Create key").click()
        secret = page.locator("#new-secret")
        expect(secret).to_be_visible()
        assert secret.inner_text().startswith("wag_")
        page.reload()
        expect(page.locator("#new-secret")).to_have_count(0)  # shown once
        expect(page.locator("tbody tr", has_text="CI")).to_have_count(1)  # and made once


def test_a_banner_shows_while_the_gateway_does_not_answer(gateway_stack):
    from playwright.sync_api import expect

    with logged_in_page(gateway_stack, "dashboard-offline") as page:
        page.goto(f"{gateway_stack.base_url}/api-keys")  # a page that does not poll by itself
        banner = page.locator("#offline-banner")
        expect(banner).to_be_hidden()
        gateway_stack.stop("web", sig=signal.SIGKILL)
        expect(banner).to_be_visible(timeout=TIMEOUT_MS)
        expect(banner).to_contain_text("not answering")
        _screenshot(page, "dashboard-offline-banner")
        gateway_stack.start_web()
        expect(banner).to_be_hidden(timeout=TIMEOUT_MS)


def test_every_dashboard_page_loads_under_the_csp(gateway_stack):
    from playwright.sync_api import expect

    base = gateway_stack.base_url
    with logged_in_page(gateway_stack, "dashboard-csp") as page:
        response = page.goto(f"{base}/")
        policy = response.headers["content-security-policy"]
        assert "script-src 'self'" in policy
        assert "unsafe-inline" not in policy
        session_id = _create_linked_sandbox_session(page, base, name="CSP session")
        for path in (f"/sessions/{session_id}", f"/sessions/{session_id}/log", "/api-keys",
                     "/webhooks", "/events", "/account"):  # fmt: skip
            page.goto(f"{base}{path}")
            page.wait_for_timeout(700)  # its scripts and first polls ran
        page.goto(f"{base}/usage")
        expect(page.locator("#usage-chart canvas").first).to_be_visible()
        for bar in page.locator(".quota-bar [data-percent]").all():  # limited plans only
            assert bar.evaluate("e => e.style.width").endswith("%")
        page.goto(f"{base}/api/docs/")
        expect(page.locator(".swagger-ui .info").first).to_be_visible(timeout=TIMEOUT_MS)


def test_a_sessions_groups_and_contacts_pages_and_send_to_a_group(gateway_stack):
    """A group made through the API shows on the Groups page with its members; its "Send a
    message" addresses the test form, and the message goes to the group."""
    from playwright.sync_api import expect

    from tests.e2e.stack import Api

    base = gateway_stack.base_url
    with logged_in_page(gateway_stack, "dashboard-groups") as page:
        session_id = _create_linked_sandbox_session(page, base, name="Group session")
        api = Api(base, gateway_stack.create_api_key(EMAIL))  # a key of the browser's user
        group = api.ok(
            "POST",
            f"/api/v1/sessions/{session_id}/groups",
            json={"subject": "Browser group", "participants": ["+62 812-0000-0177"]},
        )
        page.get_by_role("link", name="Groups").click()
        expect(page.locator("table.groups")).to_contain_text("Browser group")
        page.get_by_role("link", name="Browser group").click()
        expect(page.locator("table.members")).to_contain_text("6281200000177@s.whatsapp.net")
        expect(page.locator("table.members")).to_contain_text("creator")
        page.get_by_role("link", name="Send a message").click()
        expect(page.locator("#id_send-to")).to_have_value(group["id"])
        page.fill("#id_send-text", "Halo grup")
        page.get_by_role("button", name="Send", exact=True).click()
        expect(page.locator("#message-status .mbadge")).to_have_text("read", timeout=TIMEOUT_MS)
        page.goto(f"{base}/sessions/{session_id}/contacts")
        expect(page.locator("table.contacts")).to_contain_text("97710000021826@lid")
        _screenshot(page, "dashboard-contacts")
