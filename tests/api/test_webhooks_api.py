"""Webhook subscriptions and deliveries through the integrator API: only for whoever may manage them in
admin, through the same checks (a private address refused), the signing secret shown once."""

from __future__ import annotations

import pytest

from crm import services as crm_services
from tests.gateway.conftest import Reply, StandIn, allow_outbound
from webhooks.models import WebhookDelivery, WebhookSubscription

BASE = "/api/rest/v1/webhooks"
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def receiver(settings):
    server = StandIn()
    server.default = Reply(200, {"ok": True})
    allow_outbound(settings, server.url)
    yield server
    server.close()


def test_an_admin_subscribes_a_url_and_sees_the_secret_once(admin_api, receiver):
    response = admin_api.post_json(
        f"{BASE}/subscriptions",
        {"name": "orders", "target_url": receiver.url + "/hook", "event_types": ["contact.created"]},
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["secret"].startswith("whsec_") and body["event_types"] == ["contact.created"]
    again = admin_api.get(f"{BASE}/subscriptions/{body['id']}").json()
    assert "secret" not in again
    assert [row["id"] for row in admin_api.get(f"{BASE}/subscriptions").json()["results"]] == [body["id"]]

    changed = admin_api.patch_json(f"{BASE}/subscriptions/{body['id']}", {"active": False})
    assert changed.status_code == 200 and changed.json()["active"] is False
    assert admin_api.delete(f"{BASE}/subscriptions/{body['id']}").status_code == 204
    assert not WebhookSubscription.objects.exists()


def test_a_private_address_is_refused_and_nothing_is_made(admin_api):
    response = admin_api.post_json(
        f"{BASE}/subscriptions",
        {"name": "inside", "target_url": "http://10.0.0.8/hook", "event_types": ["message.created"]},
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"
    assert not WebhookSubscription.objects.exists()


@pytest.mark.parametrize(
    "body",
    [
        {"name": "x", "target_url": "not a url", "event_types": ["message.created"]},
        {"name": "x", "target_url": "https://example.com/h", "event_types": ["no.such"]},
        {"name": "x", "target_url": "https://example.com/h", "event_types": []},
        {"name": "x", "target_url": "https://example.com/h", "event_types": ["contact.created"], "team_id": 999999},
    ],
)
def test_bad_subscriptions_are_refused_in_the_one_error_shape(admin_api, body):
    response = admin_api.post_json(f"{BASE}/subscriptions", body)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"
    assert not WebhookSubscription.objects.exists()


def test_agents_and_supervisors_may_not_manage_webhooks(agent_api, supervisor_api):
    for api in (agent_api, supervisor_api):
        assert api.get(f"{BASE}/subscriptions").status_code == 403
        response = api.post_json(
            f"{BASE}/subscriptions",
            {"name": "x", "target_url": "https://example.com/h", "event_types": ["message.created"]},
        )
        assert response.status_code == 403
        assert api.get(f"{BASE}/deliveries").status_code == 403
    assert not WebhookSubscription.objects.exists()


def test_a_read_token_lists_but_may_not_subscribe(make_api_client, admin_user):
    reader = make_api_client(admin_user, scope="read")
    assert reader.get(f"{BASE}/subscriptions").status_code == 200
    response = reader.post_json(
        f"{BASE}/subscriptions",
        {"name": "x", "target_url": "https://example.com/h", "event_types": ["message.created"]},
    )
    assert response.status_code == 403


def test_deliveries_are_listed_and_replayed(admin_api, receiver):
    created = admin_api.post_json(
        f"{BASE}/subscriptions",
        {"name": "crm", "target_url": receiver.url + "/hook", "event_types": ["contact.created"]},
    ).json()
    crm_services.contact_create(name="Dana")
    listed = admin_api.get(f"{BASE}/deliveries", {"subscription": created["id"]})
    assert listed.status_code == 200
    rows = listed.json()["results"]
    assert [row["event_type"] for row in rows] == ["contact.created"]
    delivery = WebhookDelivery.objects.get(pk=rows[0]["id"])
    sent_before = len(receiver.requests)
    replayed = admin_api.post_json(f"{BASE}/deliveries/{delivery.pk}/replay")
    assert replayed.status_code == 200 and replayed.json() == {"queued": 1}
    assert len(receiver.requests) > sent_before or WebhookDelivery.objects.get(pk=delivery.pk).status == "pending"
    assert admin_api.post_json(f"{BASE}/deliveries/999999/replay").status_code == 404
    assert admin_api.get(f"{BASE}/deliveries", {"status": "nonsense"}).status_code == 400


@pytest.mark.parametrize("forged", ["²", "9" * 30, "0", "-1"])
def test_forged_ids_are_not_found_or_invalid_never_a_server_error(admin_api, forged):
    assert admin_api.get(f"{BASE}/subscriptions/{forged}").status_code == 404
    assert admin_api.patch_json(f"{BASE}/subscriptions/{forged}", {"active": False}).status_code == 404
    assert admin_api.delete(f"{BASE}/subscriptions/{forged}").status_code == 404
    assert admin_api.post_json(f"{BASE}/deliveries/{forged}/replay").status_code == 404
    listed = admin_api.get(f"{BASE}/deliveries", {"subscription": forged})
    assert listed.status_code == 400 and listed.json()["error"]["code"] == "invalid"
