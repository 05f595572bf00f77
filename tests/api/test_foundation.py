"""The integrator API's ground: who may call (bearer keys of a scope, or the staff session), the one error
shape for every refusal, the OpenAPI document and its page served by Switchboard itself."""

from __future__ import annotations

import hashlib

import pytest
from django.test import Client

from api.models import ApiToken
from api.tokens import token_create, token_revoke
from tests.api.conftest import BearerClient
from tests.factories.crm import UserFactory
from tests.factories.imsubsystem import InboxFactory

BASE = "/api/rest/v1"
pytestmark = pytest.mark.django_db


def test_a_key_is_shown_once_and_kept_only_as_its_hash(agent):
    token, key = token_create(user=agent, name="orders", scope="read")
    assert key.startswith(f"sbk_{token.prefix}_")
    stored = ApiToken.objects.get(pk=token.pk)
    assert stored.key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert key not in {str(v) for v in ApiToken.objects.values_list("name", "prefix", "key_hash").get(pk=token.pk)}


def test_a_call_without_credentials_is_told_to_authenticate():
    response = Client().get(f"{BASE}/me")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "auth_required"
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("key", ["sbk_00000000_nope", "not-a-key", "sbk_", "x" * 500])
def test_an_unknown_key_is_refused_in_the_one_error_shape(key):
    response = BearerClient(key).get(f"{BASE}/me")
    assert response.status_code == 401
    assert response.json() == {"error": {"code": "auth_failed", "detail": "The key is unknown.", "reason": "unknown"}}


def test_a_revoked_key_is_refused_and_says_so(make_api_client, agent):
    api = make_api_client(agent)
    assert api.get(f"{BASE}/me").status_code == 200
    token_revoke(token=api.token)
    response = api.get(f"{BASE}/me")
    assert response.status_code == 401
    assert response.json()["error"]["reason"] == "revoked"


def test_a_key_of_a_user_who_was_deactivated_stops_working(make_api_client, agent):
    api = make_api_client(agent)
    agent.is_active = False
    agent.save()
    assert api.get(f"{BASE}/me").status_code == 401


def test_a_user_without_a_staff_role_may_not_call(make_api_client):
    user = UserFactory(username="no-role")
    user.groups.clear()  # e.g. a CRM-only user
    api = make_api_client(user)
    response = api.get(f"{BASE}/me")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"


def test_a_read_key_reads_and_may_not_write(make_api_client, agent):
    reader = make_api_client(agent, scope="read")
    response = reader.get(f"{BASE}/me")
    assert response.status_code == 200
    body = response.json()
    assert body["username"] == agent.username and body["token"]["scope"] == "read"
    assert response["Cache-Control"].startswith("max-age=0") or "no-store" in response["Cache-Control"]
    refused = reader.post_json(f"{BASE}/me")
    assert refused.status_code == 403
    assert refused.json()["error"] == {"code": "forbidden", "detail": "This token may only read."}
    # A write key gets past the scope: /me simply takes no POST.
    writer = make_api_client(agent, scope="write")
    assert writer.post_json(f"{BASE}/me").json()["error"]["code"] == "method_not_allowed"


def test_last_used_time_is_kept(make_api_client, agent):
    api = make_api_client(agent)
    assert ApiToken.objects.get(pk=api.token.pk).last_used_at is None
    api.get(f"{BASE}/me")
    assert ApiToken.objects.get(pk=api.token.pk).last_used_at is not None


def test_the_staff_session_works_for_reads_and_needs_csrf_for_writes(agent):
    client = Client(enforce_csrf_checks=True)
    client.force_login(agent)
    response = client.get(f"{BASE}/me")
    assert response.status_code == 200 and response.json()["token"] is None
    refused = client.post(f"{BASE}/me", "{}", content_type="application/json")
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["error"]["detail"]


def test_a_body_that_is_not_json_gets_the_one_error_shape(make_api_client, agent):
    api = make_api_client(agent)
    response = api.post(f"{BASE}/me", "{not json", content_type="application/json")
    assert response.status_code in (400, 405)
    assert set(response.json()["error"]) >= {"code", "detail"}


def test_an_inbox_never_shows_its_credentials(make_api_client, agent):
    InboxFactory(kind="telegram", config={"bot_token": "secret-token-123"})
    response = make_api_client(agent, scope="read").get(f"{BASE}/inboxes")
    assert response.status_code == 200
    body = response.json()
    assert body["results"] and "config" not in body["results"][0]
    assert "secret-token-123" not in response.content.decode()


def test_an_unknown_object_is_not_found_in_the_one_error_shape(make_api_client, agent):
    response = make_api_client(agent).get(f"{BASE}/inboxes/999999")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_the_openapi_document_is_served_and_describes_the_bearer_scheme():
    response = Client().get(f"{BASE}/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert schema["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    assert f"{BASE}/me" in schema["paths"]


def test_the_documentation_page_loads_its_scripts_from_switchboard_itself():
    response = Client().get(f"{BASE}/docs")
    assert response.status_code == 200
    page = response.content.decode()
    assert "cdn." not in page and "unpkg" not in page and "jsdelivr" not in page
    assert "/static/drf_spectacular_sidecar/" in page
