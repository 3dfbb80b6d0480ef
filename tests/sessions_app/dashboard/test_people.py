"""The dashboard's groups and contacts pages: what the node answered, searched and paged, a
group's members, and "Send a message" addressing the session's test form."""

import re
from unittest import mock

import pytest

from tests.factories import ConnectedSessionFactory
from workers_app.errors import NodeTimeout

pytestmark = pytest.mark.django_db
GROUP = "120363041234567890@g.us"
MEMBERS = [
    {"jid": "6281200000001@s.whatsapp.net", "phone": "6281200000001", "lid": None,
     "admin": True, "superAdmin": True},
    {"jid": "6281200000002@s.whatsapp.net", "phone": "6281200000002", "lid": None,
     "admin": False, "superAdmin": False},
]  # fmt: skip
INFO = {"id": GROUP, "subject": "Kopi <pagi>", "description": "", "announce": True,
        "locked": False, "size": 2, "participants": MEMBERS}  # fmt: skip


def _node(answer):
    return mock.patch("sessions_app.calls.node_call", return_value={"result": answer})


def test_the_groups_page_lists_pages_and_searches(logged_in, user):
    session = ConnectedSessionFactory(owner=user)
    page = {"groups": [INFO], "total": 120, "refreshedAt": "2026-12-07T10:00:00Z"}
    with _node(page) as call:
        response = logged_in.get(f"/sessions/{session.id}/groups?q=kopi&offset=50")
    html = response.content.decode()
    assert response.status_code == 200
    assert "Kopi &lt;pagi&gt;" in html  # escaped
    assert "admins send" in html
    assert {"offset=100", "offset=0"} <= set(re.findall(r"offset=\d+", html))  # next, previous
    task = call.call_args.kwargs["task"]
    assert (task.op, task.params) == ("list", {"limit": 50, "offset": 50, "query": "kopi"})
    assert f"?to={GROUP.replace('@', '%40')}" in html


def test_a_group_page_shows_its_members_and_roles(logged_in, user):
    session = ConnectedSessionFactory(owner=user)
    with _node(INFO):
        html = logged_in.get(f"/sessions/{session.id}/groups/{GROUP}").content.decode()
    assert "6281200000002@s.whatsapp.net" in html
    assert {"creator", "member"} <= set(re.findall(r"<td>(creator|admin|member)</td>", html))
    assert logged_in.get(f"/sessions/{session.id}/groups/not-a-group").status_code == 404


def test_the_contacts_page_lists_them(logged_in, user):
    session = ConnectedSessionFactory(owner=user)
    contact = {"jid": "6281200000177@s.whatsapp.net", "phone": "6281200000177",
               "lid": "97710000021826@lid", "name": None, "pushName": "Sandbox 0177"}  # fmt: skip
    with _node({"contacts": [contact], "total": 1}) as call:
        html = logged_in.get(f"/sessions/{session.id}/contacts").content.decode()
    assert "Sandbox 0177" in html
    assert "97710000021826@lid" in html
    assert call.call_args.kwargs["task"].name == "node_agent.tasks.contact_call"


def test_a_silent_node_is_said_on_the_page_not_a_500(logged_in, user):
    session = ConnectedSessionFactory(owner=user)
    with mock.patch("sessions_app.calls.node_call", side_effect=NodeTimeout()):
        response = logged_in.get(f"/sessions/{session.id}/groups")
    assert response.status_code == 200
    assert "did not answer" in response.content.decode()


def test_send_a_message_addresses_the_test_form(logged_in, user):
    session = ConnectedSessionFactory(owner=user)
    html = logged_in.get(f"/sessions/{session.id}?to={GROUP}").content.decode()
    assert f'value="{GROUP}"' in html


def test_another_users_session_is_404(logged_in, other_user):
    theirs = ConnectedSessionFactory(owner=other_user)
    with _node({"groups": [], "total": 0}) as call:
        assert logged_in.get(f"/sessions/{theirs.id}/groups").status_code == 404
        assert logged_in.get(f"/sessions/{theirs.id}/contacts").status_code == 404
    call.assert_not_called()
