"""`POST /api/rest/v1/conversations`: an integrator starts a conversation with a contact on a platform inbox
through the switch's one outbound start; the first message reaches the platform stand-in; refusals are
the one error shape and change nothing; a retry with the same Idempotency-Key answers the first."""

# ruff: noqa: F811 (the outbound tests' fixtures, imported, are the tests' arguments)

from __future__ import annotations

import pytest

from api.tokens import token_create
from imsubsystem.models import Conversation
from tests.api.conftest import BearerClient
from tests.factories import ContactIdentityFactory
from tests.gateway.conftest import Reply, stand_in  # noqa: F401 (a fixture)
from tests.gateway.test_outbound import (  # noqa: F401 (fixtures)
    TEMPLATES,
    agent,
    queue,
    routing_backend,
    snapshot,
    tg_inbox,
    wa_inbox,
)

pytestmark = pytest.mark.django_db
URL = "/api/rest/v1/conversations"


def api(user, scope="write") -> BearerClient:
    return BearerClient(token_create(user=user, name="orders", scope=scope)[1])


def test_an_integrator_starts_a_telegram_conversation(agent, tg_inbox, stand_in, django_capture_on_commit_callbacks):
    stand_in.default = Reply(200, {"ok": True, "result": {"message_id": 42}})
    identity = ContactIdentityFactory(kind="telegram", external_id="777000222")
    with django_capture_on_commit_callbacks(execute=True):
        response = api(agent).post_json(
            URL, {"contact_id": identity.contact_id, "inbox_id": tg_inbox.pk, "text": "Your parcel left today"}
        )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["created"] is True and body["message"]["text"] == "Your parcel left today"
    conversation = Conversation.objects.get(pk=body["conversation"]["id"])  # routing's hand-over is on commit
    assert conversation.status == "assigned" and conversation.assignee_id == agent.pk
    [request] = stand_in.requests
    assert request.json() == {"chat_id": "777000222", "text": "Your parcel left today"}


def test_a_retry_with_the_same_idempotency_key_answers_the_first(
    agent, tg_inbox, stand_in, django_capture_on_commit_callbacks
):
    stand_in.default = Reply(200, {"ok": True, "result": {"message_id": 43}})
    identity = ContactIdentityFactory(kind="telegram", external_id="777000333")
    client = api(agent)
    body = {"contact_id": identity.contact_id, "inbox_id": tg_inbox.pk, "text": "Hello"}
    with django_capture_on_commit_callbacks(execute=True):
        first = client.post_json(URL, body, HTTP_IDEMPOTENCY_KEY="order-981")
        again = client.post_json(URL, body, HTTP_IDEMPOTENCY_KEY="order-981")
    assert first.status_code == 201 and again.status_code == 201
    assert again.json() == first.json()
    assert len(stand_in.requests) == 1


def test_whatsapp_outside_the_window_needs_a_template(agent, wa_inbox, stand_in, django_capture_on_commit_callbacks):
    stand_in.default = Reply(200, {"messaging_product": "whatsapp", "messages": [{"id": "wamid.API1"}]})
    identity = ContactIdentityFactory(kind="whatsapp", external_id="16315551199")
    client = api(agent)
    before = snapshot()
    refused = client.post_json(URL, {"contact_id": identity.contact_id, "inbox_id": wa_inbox.pk, "text": "Hi"})
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "template_required"
    assert snapshot() == before and not stand_in.requests
    template = {"name": "order_update", "language": "en_US", "params": ["Ana", "A-17"]}
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post_json(
            URL, {"contact_id": identity.contact_id, "inbox_id": wa_inbox.pk, "template": template}
        )
    assert response.status_code == 201, response.content
    [request] = stand_in.requests
    assert request.json()["type"] == "template" and request.json()["template"]["name"] == "order_update"


@pytest.mark.parametrize(
    "body, status, code",
    [
        ({"inbox_id": 1, "text": "x"}, 400, "invalid"),
        ({"contact_id": "x", "inbox_id": 1, "text": "x"}, 400, "invalid"),
        (
            {"contact_id": "CONTACT", "inbox_id": "INBOX", "text": "x", "template": {"name": "a", "language": "en"}},
            400,
            "invalid",
        ),
        ({"contact_id": "CONTACT", "inbox_id": "INBOX", "text": 5}, 400, "invalid"),
        ({"contact_id": "CONTACT", "inbox_id": "INBOX", "text": ""}, 400, "invalid"),
        ({"contact_id": 999999, "inbox_id": "INBOX", "text": "x"}, 404, "not_found"),
        ({"contact_id": "CONTACT", "inbox_id": "INBOX"}, 400, "invalid"),
    ],
)
def test_bad_starts_are_refused_and_change_nothing(agent, tg_inbox, stand_in, body, status, code):
    identity = ContactIdentityFactory(kind="telegram", external_id="777000444")
    body = {k: identity.contact_id if v == "CONTACT" else tg_inbox.pk if v == "INBOX" else v for k, v in body.items()}
    before = snapshot()
    response = api(agent).post_json(URL, body)
    assert response.status_code == status, response.content
    assert response.json()["error"]["code"] == code
    assert snapshot() == before and not stand_in.requests


def test_a_read_token_may_not_start(agent, tg_inbox, stand_in):
    identity = ContactIdentityFactory(kind="telegram", external_id="777000555")
    before = snapshot()
    response = api(agent, scope="read").post_json(
        URL, {"contact_id": identity.contact_id, "inbox_id": tg_inbox.pk, "text": "x"}
    )
    assert response.status_code == 403
    assert snapshot() == before
