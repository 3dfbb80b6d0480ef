import pytest
from rest_framework.test import APIClient

from tests.factories import SessionFactory

pytestmark = pytest.mark.django_db


def _error(response):
    body = response.json()
    assert body["success"] is False
    return body["error"]


def test_requests_without_a_key_are_401():
    response = APIClient().get("/api/v1/sessions")
    assert response.status_code in (401, 403)
    assert _error(response)["code"] in ("unauthorized", "forbidden")


def test_a_revoked_or_wrong_key_is_401(api_key):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer wag_not-a-real-key")
    response = client.get("/api/v1/sessions")
    assert response.status_code == 401
    assert _error(response)["code"] == "unauthorized"


def test_x_api_key_header_works(user, api_key):
    SessionFactory(owner=user, name="mine")
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=api_key.secret)
    response = client.get("/api/v1/sessions")
    assert response.status_code == 200
    assert [s["name"] for s in response.json()["data"]] == ["mine"]


def test_malformed_json_is_400(api):
    response = api.post("/api/v1/sessions", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert _error(response)["code"] == "invalid_json"


def test_unknown_api_path_is_404_envelope(api):
    response = api.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.json()["success"] is False


def test_openapi_schema_is_served(api):
    response = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    assert b"/api/v1/messages" in response.content


def test_unknown_dashboard_path_is_an_html_404(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert b"Not found" in response.content
    assert response["Content-Type"].startswith("text/html")


def test_deeply_nested_json_is_400_not_500(api):
    response = api.post("/api/v1/messages", "[" * 100_000, content_type="application/json")
    assert response.status_code == 400
    assert _error(response) == {
        "code": "invalid_json",
        "message": "Request body is not valid JSON.",
        "fields": {},
    }


def test_odd_bytes_in_an_id_are_404(api):
    for path in ["/api/v1/sessions/abc%00def", "/api/v1/messages/abc%00def"]:
        response = api.get(path)
        assert response.status_code == 404, path
        assert response.json()["success"] is False


def test_options_is_405_envelope(api):
    response = api.options("/api/v1/sessions")
    assert response.status_code == 405
    assert _error(response)["code"] == "method_not_allowed"


def test_api_docs_open_on_sessions_and_keep_node_routes_at_the_end(api):
    schema = api.get("/api/schema/?format=json").json()
    order = [tag["name"] for tag in schema["tags"]]
    assert order[:2] == ["sessions", "messages"]
    assert order[-2:] == ["nodes", "node reports"]
    for path, operations in schema["paths"].items():
        for operation in operations.values():
            (tag,) = operation["tags"]
            assert tag in order, (path, tag)
            internal = path.startswith(("/api/webhooks/", "/api/internal/", "/api/admin/"))
            assert internal == (tag in ("nodes", "node reports")), (path, tag)


def test_an_oversized_json_body_is_413_and_writes_nothing(api, user, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    body = {"sessionId": "ses_x", "to": "+6281200000001", "text": "y" * 20_000}
    response = api.post("/api/v1/messages", body, format="json")
    assert (response.status_code, response.json()["error"]["code"]) == (413, "payload_too_large")
    response = api.post("/api/v1/sessions", {"name": "n" * 20_000}, format="json")
    assert (response.status_code, response.json()["error"]["code"]) == (413, "payload_too_large")
    assert not user.wa_sessions.exists()
