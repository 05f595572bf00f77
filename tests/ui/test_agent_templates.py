"""The agent console's template endpoints: list an inbox's approved templates, send one."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from crm.models import ChannelKind
from crm.roles import AGENT
from gateway import services as gateway_services
from gateway.models import OutboxItem
from imsubsystem.models import Conversation, Inbox, Message
from imsubsystem.services import SwitchError
from tests.factories import ContactFactory, ContactIdentityFactory, UserFactory

API = "/api/v1/agent/"
TEMPLATES = [{"name": "order_update", "language": "en_US", "params": 2, "text": "Hi {{1}}, order {{2}} shipped."}]

pytestmark = pytest.mark.django_db


def conversation_on(kind: str, *, assignee, templates=TEMPLATES) -> Conversation:
    inbox = Inbox.objects.create(
        kind=kind,
        key=f"{kind}-tpl",
        name=kind,
        config={"phone_number_id": "55", "templates": templates},
        credentials={"access_token": "t", "app_secret": "s", "verify_token": "v"},
    )
    contact = ContactFactory(name="Ada")
    ContactIdentityFactory(contact=contact, kind=kind, external_id="16315551181")
    return Conversation.objects.create(
        contact=contact, inbox=inbox, status="assigned", assignee=assignee, open_slot=f"{inbox.pk}:{contact.pk}"
    )


@pytest.fixture
def whatsapp(agent):
    return conversation_on(ChannelKind.WHATSAPP, assignee=agent)


def post(client, conversation, body):
    return client.post(
        f"{API}conversations/{conversation.pk}/template", json.dumps(body), content_type="application/json"
    )


def test_lists_the_inboxs_templates(agent_client, whatsapp):
    response = agent_client.get(f"{API}conversations/{whatsapp.pk}/templates")
    assert response.status_code == 200
    assert response.json() == {"conversation_id": whatsapp.pk, "inbox_kind": "whatsapp", "templates": TEMPLATES}


def test_other_platforms_list_no_templates(agent_client, agent):
    web = conversation_on(ChannelKind.WEB, assignee=agent)
    assert agent_client.get(f"{API}conversations/{web.pk}/templates").json()["templates"] == []


def test_sends_a_template_as_the_agents_message(agent_client, agent, whatsapp, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        response = post(agent_client, whatsapp, {"name": "order_update", "language": "en_US", "params": ["Ada", "17"]})
    assert response.status_code == 201
    message = response.json()["message"]
    assert message["text"] == "Hi Ada, order 17 shipped." and message["sender"]["kind"] == "agent"
    item = OutboxItem.objects.get(message_id=message["id"])
    assert item.template["name"] == "order_update" and item.recipient == "16315551181"
    assert Message.objects.get(pk=message["id"]).sender_user_id == agent.pk


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"name": "nope", "language": "en_US", "params": []}, "invalid"),
        ({"name": "order_update", "language": "en_US", "params": ["Ada"]}, "invalid"),
        ({"name": "order_update", "params": ["Ada", "17"]}, "invalid"),
        ({"name": "order_update", "language": "en_US", "params": ["Ada", "17"], "client_id": 5}, "invalid"),
    ],
)
def test_bad_requests_are_refused_and_store_nothing(agent_client, whatsapp, body, code):
    response = post(agent_client, whatsapp, body)
    assert response.status_code == 400 and response.json()["error"]["code"] == code
    assert Message.objects.count() == 0 and OutboxItem.objects.count() == 0


def test_not_json_is_refused(agent_client, whatsapp):
    response = agent_client.post(f"{API}conversations/{whatsapp.pk}/template", "[1]", content_type="application/json")
    assert response.status_code == 400 and response.json()["error"]["code"] == "bad_json"


def test_another_agents_conversation_is_not_found(client, whatsapp):
    client.force_login(UserFactory(username="agent-b", role=AGENT))
    body = {"name": "order_update", "language": "en_US", "params": ["Ada", "17"]}
    assert post(client, whatsapp, body).status_code == 404
    assert client.get(f"{API}conversations/{whatsapp.pk}/templates").status_code == 404
    assert Message.objects.count() == 0


def test_a_closed_conversation_is_refused(agent_client, whatsapp):
    Conversation.objects.filter(pk=whatsapp.pk).update(status="closed", open_slot=None)
    response = post(agent_client, whatsapp, {"name": "order_update", "language": "en_US", "params": ["Ada", "17"]})
    assert response.status_code == 409 and response.json()["error"]["code"] == "conversation_closed"
    assert Message.objects.count() == 0


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("not_found", 404),
        ("forbidden", 403),
        ("illegal_transition", 409),
        ("rate_limited", 429),
        ("over_capacity", 400),
    ],
)
def test_a_switch_refusal_answers_with_the_status_and_shape_the_widget_api_uses(
    agent_client, whatsapp, monkeypatch, code, status
):
    def refuse(**kwargs):
        raise SwitchError(code, "refused")

    monkeypatch.setattr(gateway_services, "template_send", refuse)
    response = post(agent_client, whatsapp, {"name": "order_update", "language": "en_US", "params": ["Ada", "17"]})
    assert response.status_code == status
    assert response.json() == {"error": {"code": code, "detail": "refused"}}


def test_needs_a_login_and_the_csrf_token(agent, whatsapp):
    body = {"name": "order_update", "language": "en_US", "params": ["Ada", "17"]}
    assert post(Client(), whatsapp, body).status_code == 401
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(agent)
    assert post(strict, whatsapp, body).status_code == 403
    assert Message.objects.count() == 0


def test_only_post_sends(agent_client, whatsapp):
    assert agent_client.get(f"{API}conversations/{whatsapp.pk}/template").status_code == 405
