"""Contacts, profiles and LIDs end to end on real processes: the sandbox's magic numbers through
the API, the broker and the node; pictures through the gateway; sending to a LID; a contact's
rename as a signed contact.updated webhook; both forms of a sender in the history."""

from __future__ import annotations

import base64

import pytest
from standardwebhooks import Webhook

from tests.e2e.stack import Api, wait_for
from tests.sessions_app.webhooks.receiver import Receiver

pytestmark = pytest.mark.e2e
SHOP, PRIVATE, WITH_LID = "6281200000197", "6281200000196", "6281200000177"
LID = "97710000021826@lid"  # the sandbox's LID of WITH_LID (README "The sandbox engine")


def test_contacts_profiles_pictures_blocks_and_lids(gateway_stack):
    stack = gateway_stack
    api = Api(stack.base_url, stack.create_api_key("contacts@example.com"))
    sid = api.link_sandbox("C")
    at = f"/api/v1/sessions/{sid}"
    api.ok("POST", "/api/v1/messages", json={"sessionId": sid, "to": SHOP, "text": "Halo"})
    api.ok("POST", f"{at}/sandbox/incoming", json={"from": f"+{WITH_LID}", "text": "Hai"})
    wait_for(lambda: api.ok("GET", f"{at}/contacts")["total"] == 2, timeout_s=20, what="contacts")
    listed = api.ok("GET", f"{at}/contacts")["contacts"]
    assert {(c["phone"], c["lid"]) for c in listed} == {(SHOP, None), (WITH_LID, LID)}

    shop = api.ok("GET", f"{at}/contacts/+{SHOP}")
    assert (shop["business"], shop["verifiedName"]) == (True, "Sandbox Shop 0197")
    picture = api.http.get(shop["pictureUrl"], timeout=10)
    assert (picture.status_code, picture.headers["Content-Type"]) == (200, "image/jpeg")
    assert picture.content.startswith(b"\xff\xd8\xff")
    private = api.ok("GET", f"{at}/contacts/{PRIVATE}")
    assert (private["pictureUrl"], private["about"]) == (None, None)
    status, hidden = api.call("GET", f"{at}/contacts/{PRIVATE}/picture")
    assert (status, hidden["error"]["code"]) == (404, "picture_not_found")

    assert api.ok("GET", f"{at}/lids/{WITH_LID}") == {"phone": WITH_LID, "lid": LID}
    assert api.ok("GET", f"{at}/lids/{LID}") == {"phone": WITH_LID, "lid": LID}

    api.ok("POST", f"{at}/contacts/{LID}/block")
    assert api.ok("GET", f"{at}/blocklist") == {"jids": [f"{WITH_LID}@s.whatsapp.net"]}
    api.ok("POST", f"{at}/contacts/{WITH_LID}/unblock")
    assert api.ok("GET", f"{at}/blocklist") == {"jids": []}

    me = api.ok("PATCH", f"{at}/profile", json={"pushName": "Toko C", "about": "Buka"})
    assert (me["pushName"], me["about"], me["pictureUrl"]) == ("Toko C", "Buka", None)
    jpeg = base64.b64encode(b"\xff\xd8\xff\xe0 own picture").decode()
    me = api.ok("PUT", f"{at}/profile/picture", json={"image": jpeg})
    own = api.http.get(me["pictureUrl"], timeout=10)
    assert own.content == base64.b64decode(jpeg)
    assert api.ok("DELETE", f"{at}/profile/picture")["pictureUrl"] is None


def test_a_rename_is_a_signed_contact_update_and_the_history_has_both_forms(gateway_stack):
    stack = gateway_stack
    api = Api(stack.base_url, stack.create_api_key("renames@example.com"))
    sid = api.link_sandbox("R")
    at = f"/api/v1/sessions/{sid}"
    receiver = Receiver().start()
    try:
        hook = api.ok(
            "POST",
            "/api/v1/webhooks",
            json={"url": receiver.url, "eventTypes": ["contact.updated"]},
        )
        for name in ("Toko Ana", "Toko Ana", "Ana's Shop"):
            api.ok(
                "POST",
                f"{at}/sandbox/incoming",
                json={"from": f"+{WITH_LID}", "text": name, "pushName": name},
            )
        wait_for(lambda: receiver.requests, timeout_s=20, what="a contact.updated webhook")
        history = wait_for(
            lambda: len(h := api.ok("GET", f"{at}/messages", params={"direction": "in"})) == 3
            and h,
            timeout_s=20,
            what="three incoming messages",
        )
    finally:
        receiver.stop()
    [request] = receiver.requests
    payload = Webhook(hook["secret"]).verify(request.body, request.headers)
    assert payload["type"] == "contact.updated"
    assert payload["data"] == {
        "sessionId": sid,
        "contact": f"{WITH_LID}@s.whatsapp.net",
        "phone": WITH_LID,
        "lid": LID,
        "changes": {"pushName": "Ana's Shop"},
    }
    content = history[-1]["content"]
    assert (content["fromPhone"], content["fromLid"], content["pushName"]) == (
        WITH_LID,
        LID,
        "Ana's Shop",
    )
