"""Dashboard pages for sessions: list, create, the live status panel, sandbox, test messages."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from sessions_app.sessions.models import Session
from sessions_app.sessions.services import session_create, session_status_apply
from tests.factories import ConnectedSessionFactory

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}
QR = "2@abc,def,ghi,jkl"


def _put_in_qr(session, *, ttl_s=60):
    return session_status_apply(
        session_id=session.id,
        status="QR_REQUIRED",
        timestamp=timezone.now(),
        qr_string=QR,
        qr_expires_at=timezone.now() + timedelta(seconds=ttl_s),
    )


def _on_node(session, worker):
    Session.objects.filter(id=session.id).update(worker=worker)
    session.refresh_from_db()
    return session


def test_creating_a_session_shows_it(logged_in, user):
    response = logged_in.post("/sessions/new", {"name": "Shop bot", "engine": "sandbox"})

    session = Session.objects.get(owner=user)
    assert response["Location"] == f"/sessions/{session.id}"
    detail = logged_in.get(response["Location"]).content.decode()
    assert "<h1>Shop bot</h1>" in detail
    assert "Disconnected" in detail
    listing = logged_in.get("/").content.decode()
    assert f'href="/sessions/{session.id}">Shop bot</a>' in listing
    assert "badge-disconnected" in listing


def test_create_session_shows_field_errors(logged_in):
    response = logged_in.post("/sessions/new", {"name": "", "engine": "telegram"})

    page = response.content.decode()
    assert "This field is required." in page
    assert "Select a valid choice." in page
    assert not Session.objects.exists()


def test_list_rows_partial_shows_live_status_and_phone(logged_in, user, other_user):
    mine = ConnectedSessionFactory(owner=user, name="Live one", phone_number="15550001111")
    ConnectedSessionFactory(owner=other_user, name="Not mine")

    response = logged_in.get("/sessions/rows", headers=HTMX)

    page = response.content.decode()
    assert page.lstrip().startswith('<tbody id="session-rows"')
    assert 'hx-trigger="every 2s"' in page
    assert "Live one" in page
    assert "+15550001111" in page
    assert '<span class="badge badge-connected">Connected</span>' in page
    assert "Not mine" not in page
    assert mine.id in page


def test_another_users_session_is_a_404_page(logged_in, other_user):
    theirs = session_create(owner=other_user, name="Secret shop", engine="sandbox")

    for path in (
        f"/sessions/{theirs.id}",
        f"/sessions/{theirs.id}/status",
        f"/sessions/{theirs.id}/messages",
    ):
        response = logged_in.get(path)
        assert response.status_code == 404, path
        assert "Secret shop" not in response.content.decode()
    assert "Not found" in logged_in.get(f"/sessions/{theirs.id}").content.decode()

    assert logged_in.post(f"/sessions/{theirs.id}/delete").status_code == 404
    assert logged_in.post(f"/sessions/{theirs.id}/connect", {"method": "qr"}).status_code == 404
    assert Session.objects.filter(id=theirs.id).exists()


def test_disconnected_panel_offers_connect_and_shows_the_reason(logged_in, user):
    session = session_create(owner=user, name="s", engine="whatsapp")
    Session.objects.filter(id=session.id).update(status="FAILED", status_reason="qr_timeout")

    page = logged_in.get(f"/sessions/{session.id}/status", headers=HTMX).content.decode()

    assert 'id="connect"' in page
    assert 'value="pairing_code"' in page
    assert "qr_timeout" in page
    assert 'hx-trigger="every 1s"' in page


def test_qr_partial_shows_the_image_and_the_countdown(logged_in, user):
    session = _put_in_qr(session_create(owner=user, name="s", engine="whatsapp"))

    response = logged_in.get(f"/sessions/{session.id}/status", headers=HTMX)

    page = response.content.decode()
    img = re.search(r'<img id="qr-image" src="([^"]+)" alt="QR code"', page)
    assert img is not None
    assert img.group(1) == session.qr_code
    assert img.group(1).startswith("data:image/png;base64,")
    assert "Settings → Linked devices → Link a device" in page
    countdown = re.search(r'data-expires-at="([^"]+)" data-now="[^"]+">(\d+)<', page)
    assert countdown is not None
    assert countdown.group(1).startswith(session.qr_expires_at.isoformat()[:19])
    assert 58 <= int(countdown.group(2)) <= 60
    assert 'hx-trigger="every 1s"' in page
    assert "Waiting for QR scan" in page
    assert 'id="sandbox-scan"' not in page  # a WhatsApp session has no sandbox phone


def test_expired_qr_is_not_shown(logged_in, user):
    session = _put_in_qr(session_create(owner=user, name="s", engine="whatsapp"), ttl_s=-1)

    page = logged_in.get(f"/sessions/{session.id}/status", headers=HTMX).content.decode()

    assert 'id="qr-image"' not in page
    assert "Waiting for a new QR code" in page


def test_status_poll_answers_204_until_something_changes(logged_in, user):
    session = session_create(owner=user, name="s", engine="whatsapp")
    url = f"/sessions/{session.id}/status"
    first = logged_in.get(url, headers=HTMX).content.decode()
    token = re.search(r'hx-get="[^"?]+\?v=([^"]+)"', first).group(1)

    assert logged_in.get(url, {"v": token}, headers=HTMX).status_code == 204

    _put_in_qr(session)
    changed = logged_in.get(url, {"v": token}, headers=HTMX)
    assert changed.status_code == 200
    assert 'id="qr-image"' in changed.content.decode()


def test_pairing_panel_shows_the_code(logged_in, user):
    session = session_create(owner=user, name="s", engine="whatsapp")
    session_status_apply(
        session_id=session.id, status="PAIRING", timestamp=timezone.now(), pairing_code="ABCD1234"
    )

    page = logged_in.get(f"/sessions/{session.id}/status", headers=HTMX).content.decode()

    assert '<p class="pairing-code" id="pairing-code">ABCD1234</p>' in page


def test_connected_partial_shows_connected_and_the_phone(logged_in, user):
    session = session_create(owner=user, name="s", engine="whatsapp")
    session_status_apply(
        session_id=session.id,
        status="CONNECTED",
        timestamp=timezone.now(),
        phone_number="6281200000001",
        jid="6281200000001@s.whatsapp.net",
    )

    page = logged_in.get(f"/sessions/{session.id}/status", headers=HTMX).content.decode()

    status = re.search(r'<p id="session-status"[^>]*>(.*?)</p>', page, re.S).group(1)
    assert "Connected" in status
    assert "+6281200000001" in status
    assert 'hx-trigger="every 5s"' in page
    assert "Send a test message" in page
    assert ">Disconnect<" in page
    assert "Simulate incoming message" not in page  # not a sandbox session


def test_scan_button_appears_only_for_sandbox_sessions(logged_in, user):
    sandbox = _put_in_qr(session_create(owner=user, name="sb", engine="sandbox"))
    whatsapp = _put_in_qr(session_create(owner=user, name="wa", engine="whatsapp"))

    sandbox_page = logged_in.get(f"/sessions/{sandbox.id}").content.decode()
    whatsapp_page = logged_in.get(f"/sessions/{whatsapp.id}").content.decode()

    assert 'id="sandbox-scan"' in sandbox_page
    assert "Scan with sandbox phone" in sandbox_page
    assert 'id="sandbox-scan"' not in whatsapp_page
    assert "Sandbox phone" not in whatsapp_page


def test_connect_with_no_node_online_shows_the_message(logged_in, user):
    session = session_create(owner=user, name="s", engine="sandbox")

    response = logged_in.post(f"/sessions/{session.id}/connect", {"method": "qr"}, headers=HTMX)

    assert response.status_code == 200
    page = response.content.decode()
    assert "No node can take this session right now." in page
    assert 'id="status-panel"' in page
    session.refresh_from_db()
    assert session.status == "DISCONNECTED"


def test_connect_with_no_node_without_htmx_renders_the_page_with_the_message(logged_in, user):
    session = session_create(owner=user, name="s", engine="sandbox")

    response = logged_in.post(f"/sessions/{session.id}/connect", {"method": "qr"})

    assert response.status_code == 200
    assert "No node can take this session right now." in response.content.decode()
    assert "<h1>s</h1>" in response.content.decode()


def test_connect_places_the_session_and_publishes_session_start(
    logged_in, user, worker, broker, django_capture_on_commit_callbacks
):
    session = session_create(owner=user, name="s", engine="sandbox")

    with django_capture_on_commit_callbacks(execute=True):
        response = logged_in.post(f"/sessions/{session.id}/connect", {"method": "qr"}, headers=HTMX)

    assert "Starting…" in response.content.decode()
    session.refresh_from_db()
    assert (session.status, session.worker_id) == ("INITIALIZING", worker.id)
    tasks = broker.drain(worker.endpoint)
    assert [t["task"] for t in tasks] == ["node_agent.tasks.session_start"]
    assert tasks[0]["kwargs"]["sessionId"] == session.id
    assert tasks[0]["kwargs"]["method"] == "qr"


def test_connect_with_pairing_code_needs_a_phone_number(logged_in, user, worker):
    session = session_create(owner=user, name="s", engine="sandbox")

    response = logged_in.post(
        f"/sessions/{session.id}/connect", {"method": "pairing_code", "phone_number": ""}
    )

    assert "A pairing code needs the phone&#x27;s number." in response.content.decode()
    session.refresh_from_db()
    assert session.status == "DISCONNECTED"


def test_connect_without_htmx_redirects_back(logged_in, user, worker):
    session = session_create(owner=user, name="s", engine="sandbox")

    response = logged_in.post(
        f"/sessions/{session.id}/connect",
        {"method": "pairing_code", "phone_number": "+1 555 000 1111"},
    )

    assert response.status_code == 302
    assert response["Location"] == f"/sessions/{session.id}"
    session.refresh_from_db()
    assert (session.status, session.connect_method) == ("INITIALIZING", "pairing_code")


def test_sandbox_scan_publishes_the_scan_of_the_current_qr(
    logged_in, user, worker, broker, django_capture_on_commit_callbacks
):
    session = _on_node(session_create(owner=user, name="s", engine="sandbox"), worker)
    _put_in_qr(session)

    with django_capture_on_commit_callbacks(execute=True):
        response = logged_in.post(f"/sessions/{session.id}/sandbox/scan", headers=HTMX)

    assert "The sandbox phone scanned the QR code." in response.content.decode()
    tasks = broker.drain(worker.endpoint)
    assert [t["task"] for t in tasks] == ["node_agent.tasks.sandbox_action"]
    assert tasks[0]["kwargs"]["action"] == "scan"
    assert tasks[0]["kwargs"]["params"]["qrString"] == QR


def test_sandbox_scan_of_an_expired_qr_shows_the_error(logged_in, user, worker):
    session = _on_node(session_create(owner=user, name="s", engine="sandbox"), worker)
    _put_in_qr(session, ttl_s=-1)

    response = logged_in.post(f"/sessions/{session.id}/sandbox/scan", headers=HTMX)

    assert response.status_code == 200
    assert "That QR code has expired or was replaced" in response.content.decode()


def test_sandbox_controls_when_connected(
    logged_in, user, broker, django_capture_on_commit_callbacks
):
    session = ConnectedSessionFactory(owner=user, engine="sandbox")
    page = logged_in.get(f"/sessions/{session.id}").content.decode()
    assert "Simulate incoming message" in page
    assert "Phone logs out" in page
    broker.clear(f"node.{session.worker_id}")

    with django_capture_on_commit_callbacks(execute=True):
        response = logged_in.post(
            f"/sessions/{session.id}/sandbox/incoming",
            {"incoming-sender": "+1 (555) 000-2222", "incoming-text": "hello"},
            headers=HTMX,
        )
        logged_in.post(f"/sessions/{session.id}/sandbox/logout", headers=HTMX)

    assert "Simulated a message from +15550002222." in response.content.decode()
    tasks = broker.drain(f"node.{session.worker_id}")
    assert [t["kwargs"]["action"] for t in tasks] == ["incoming", "logout"]
    params = tasks[0]["kwargs"]["params"]
    assert params.pop("acceptedAt") > 0  # the node runs incoming actions in this order
    assert params == {"from": "15550002222", "type": "text", "text": "hello"}


def test_disconnect_and_logout_change_the_status(logged_in, user):
    session = ConnectedSessionFactory(owner=user)

    disconnected = logged_in.post(f"/sessions/{session.id}/disconnect", headers=HTMX)
    assert "badge-disconnected" in disconnected.content.decode()
    assert 'id="connect"' in disconnected.content.decode()

    logged_out = logged_in.post(f"/sessions/{session.id}/logout", headers=HTMX)
    assert "Logged out" in logged_out.content.decode()
    session.refresh_from_db()
    assert session.status == "LOGGED_OUT"


def test_delete_removes_the_session_and_goes_to_the_list(logged_in, user):
    session = session_create(owner=user, name="Doomed", engine="sandbox")

    page = logged_in.get(f"/sessions/{session.id}").content.decode()
    assert 'hx-confirm="Delete “Doomed”?' in page

    response = logged_in.post(f"/sessions/{session.id}/delete", headers=HTMX)

    assert response["HX-Redirect"] == "/"
    assert not Session.objects.filter(id=session.id).exists()
    assert "Session “Doomed” deleted." in logged_in.get("/").content.decode()


def test_connected_sandbox_page_has_unique_element_ids(logged_in, user):
    session = ConnectedSessionFactory(owner=user, engine="sandbox")

    page = logged_in.get(f"/sessions/{session.id}").content.decode()

    ids = re.findall(r'\sid="([^"]+)"', page)
    assert "id_send-text" in ids
    assert "id_incoming-text" in ids
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)


def test_failed_session_explains_its_reason(logged_in, user):
    from django.utils import timezone

    from sessions_app.sessions.services import session_create, session_status_apply

    session = session_create(owner=user, name="wa", engine="whatsapp")
    session_status_apply(
        session_id=session.id,
        status="FAILED",
        timestamp=timezone.now(),
        reason="whatsapp_unreachable",
    )
    response = logged_in.get(f"/sessions/{session.id}")
    assert b"cannot reach WhatsApp" in response.content
    assert b"whatsapp_unreachable" in response.content


def test_an_overlong_name_is_a_field_error_not_cut_by_the_browser(logged_in):
    page = logged_in.get("/").content.decode()
    assert 'name="name"' in page
    assert "maxlength" not in page  # a browser would cut a longer paste without a word
    response = logged_in.post("/sessions/new", {"name": "n" * 101, "engine": "sandbox"})
    assert response.status_code == 400
    assert "at most 100 characters" in response.content.decode()
    assert not Session.objects.exists()
