"""Outbound conversations (imsubsystem/services/outbound.py): an agent starts a conversation with a CRM
contact on an inbox; the first message reaches the platform stand-in (WhatsApp, Telegram, Twilio SMS) or
waits for the widget visitor's next visit. Refusals change nothing."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from crm.roles import AGENT
from gateway.models import OutboxItem
from imsubsystem import services
from imsubsystem.models import Conversation, Message
from imsubsystem.services import SwitchError, conversation_start_outbound
from routing.models import AgentProfile, AssignmentEvent, WorkItem
from tests.factories import (
    AgentProfileFactory,
    ContactFactory,
    ContactIdentityFactory,
    InboxFactory,
    QueueFactory,
    UserFactory,
)
from tests.gateway.conftest import Reply
from tests.gateway.test_whatsapp import signed, wa_message, webhook_body

pytestmark = pytest.mark.django_db

TEMPLATES = [{"name": "order_update", "language": "en_US", "params": 2, "text": "Hi {{1}}, order {{2}} has shipped."}]


@pytest.fixture(autouse=True)
def routing_backend():
    """Routing's in-process backend (routing's own contract suite runs the same decisions on Redis)."""
    from routing.backends import channel_kinds, set_backend
    from routing.backends.memory import MemoryBackend

    previous = set_backend(MemoryBackend(channel_kinds=channel_kinds()))
    yield
    set_backend(previous)


@pytest.fixture
def queue(db):
    return QueueFactory(name="Outbound")


@pytest.fixture
def agent(queue):
    user = UserFactory(username="agent-out", role=AGENT)
    AgentProfileFactory(user=user, queues=[queue], default_capacity=3)
    return user


@pytest.fixture
def wa_inbox(queue, stand_in):
    return InboxFactory(
        kind="whatsapp",
        key="wa-outbound",
        default_queue=queue,
        config={"phone_number_id": "55", "api_base_url": stand_in.url, "templates": TEMPLATES},
        credentials={"access_token": "t", "app_secret": "wa-app-secret", "verify_token": "v"},
    )


@pytest.fixture
def tg_inbox(queue, stand_in):
    return InboxFactory(
        kind="telegram",
        key="tg-outbound",
        default_queue=queue,
        config={"api_base_url": stand_in.url},
        credentials={"bot_token": "9:Z", "secret_token": "s"},
    )


@pytest.fixture
def sms_inbox(queue, stand_in):
    return InboxFactory(
        kind="sms",
        key="sms-outbound",
        default_queue=queue,
        config={"api_base_url": stand_in.url, "from_number": "+15005550006", "provider": "twilio"},
        credentials={"account_sid": "AC123", "auth_token": "tw"},
    )


@pytest.fixture
def web_inbox(queue):
    return InboxFactory(kind="web", key="web-outbound", default_queue=queue)


def start(capture, **kwargs):
    with capture(execute=True):
        return conversation_start_outbound(**kwargs)


def snapshot():
    return (
        Conversation.objects.count(),
        Message.objects.count(),
        OutboxItem.objects.count(),
        WorkItem.objects.count(),
        AssignmentEvent.objects.count(),
    )


def assigned_to(conversation_id: int, agent) -> None:
    conversation = Conversation.objects.get(pk=conversation_id)
    assert conversation.status == "assigned" and conversation.assignee_id == agent.pk
    assert WorkItem.objects.get(ref=conversation_id).agent_id == agent.pk


def test_telegram_start_sends_the_text_to_the_contacts_chat(
    agent, tg_inbox, stand_in, django_capture_on_commit_callbacks
):
    stand_in.default = Reply(200, {"ok": True, "result": {"message_id": 42}})
    identity = ContactIdentityFactory(kind="telegram", external_id="777000111")
    started = start(
        django_capture_on_commit_callbacks,
        contact_id=identity.contact_id,
        inbox_id=tg_inbox.pk,
        by_user_id=agent.pk,
        text="Your order is ready",
    )
    assert started["created"] and started["message"]["text"] == "Your order is ready"
    assigned_to(started["conversation_id"], agent)
    [request] = stand_in.requests
    assert request.path == "/bot9:Z/sendMessage"
    assert request.json() == {"chat_id": "777000111", "text": "Your order is ready"}
    assert OutboxItem.objects.get().state == "sent"


def test_sms_start_goes_through_twilio(agent, sms_inbox, stand_in, django_capture_on_commit_callbacks):
    stand_in.default = Reply(201, {"sid": "SMout1", "status": "queued"})
    identity = ContactIdentityFactory(kind="sms", external_id="+14155550123")
    started = start(
        django_capture_on_commit_callbacks,
        contact_id=identity.contact_id,
        inbox_id=sms_inbox.pk,
        by_user_id=agent.pk,
        text="Your table is ready",
    )
    assigned_to(started["conversation_id"], agent)
    [request] = stand_in.requests
    assert request.path == "/2010-04-01/Accounts/AC123/Messages.json"
    assert request.form() == {"To": ["+14155550123"], "From": ["+15005550006"], "Body": ["Your table is ready"]}


def test_whatsapp_outside_the_window_needs_a_template(agent, wa_inbox, stand_in, django_capture_on_commit_callbacks):
    stand_in.default = Reply(200, {"messaging_product": "whatsapp", "messages": [{"id": "wamid.OUT1"}]})
    identity = ContactIdentityFactory(kind="whatsapp", external_id="16315551181")
    before = snapshot()
    with pytest.raises(SwitchError) as refused:
        start(
            django_capture_on_commit_callbacks,
            contact_id=identity.contact_id,
            inbox_id=wa_inbox.pk,
            by_user_id=agent.pk,
            text="hello",
        )
    assert refused.value.code == "template_required"
    assert snapshot() == before and stand_in.requests == []

    started = start(
        django_capture_on_commit_callbacks,
        contact_id=identity.contact_id,
        inbox_id=wa_inbox.pk,
        by_user_id=agent.pk,
        template={"name": "order_update", "language": "en_US", "params": ["Ada", "A-17"]},
    )
    assert started["created"] and started["message"]["text"] == "Hi Ada, order A-17 has shipped."
    assigned_to(started["conversation_id"], agent)
    [request] = stand_in.requests
    body = request.json()
    assert request.path == "/v21.0/55/messages"
    assert body["type"] == "template" and body["to"] == "16315551181"
    assert body["template"]["name"] == "order_update"
    assert body["template"]["components"][0]["parameters"][1] == {"type": "text", "text": "A-17"}


def test_whatsapp_inside_the_window_sends_text(client, agent, wa_inbox, stand_in, django_capture_on_commit_callbacks):
    stand_in.default = Reply(200, {"messaging_product": "whatsapp", "messages": [{"id": "wamid.OUT2"}]})
    recent = str(int((timezone.now() - timedelta(hours=2)).timestamp()))
    body = webhook_body(messages=[wa_message("text", {"body": "is it shipped?"}, ts=recent)])
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            "/gateway/whatsapp/wa-outbound/",
            body,
            content_type="application/json",
            HTTP_X_HUB_SIGNATURE_256=signed(body)["X-Hub-Signature-256"],
        )
    customer = Conversation.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        services.conversation_close(conversation_id=customer.pk)
    started = start(
        django_capture_on_commit_callbacks,
        contact_id=customer.contact_id,
        inbox_id=wa_inbox.pk,
        by_user_id=agent.pk,
        text="Yes, it left this morning.",
    )
    assert started["conversation_id"] != customer.pk
    assigned_to(started["conversation_id"], agent)
    [request] = stand_in.requests
    assert request.json()["type"] == "text" and request.json()["text"]["body"] == "Yes, it left this morning."


def test_widget_message_waits_for_the_visitors_next_visit(client, agent, web_inbox, django_capture_on_commit_callbacks):
    created = client.post(
        f"/api/v1/widget/{web_inbox.key}/sessions",
        json.dumps({"name": "Ada"}),
        content_type="application/json",
        HTTP_ORIGIN="https://shop.example",
    )
    assert created.status_code == 201, created.content
    token, contact_id = created.json()["session_token"], created.json()["contact_id"]
    started = start(
        django_capture_on_commit_callbacks,
        contact_id=contact_id,
        inbox_id=web_inbox.pk,
        by_user_id=agent.pk,
        text="We found your lost parcel",
    )
    assigned_to(started["conversation_id"], agent)
    assert OutboxItem.objects.count() == 0
    # The visitor comes back: the widget reads its conversation with the session it kept.
    seen = client.get(
        "/api/v1/widget/messages?after_seq=0", HTTP_AUTHORIZATION=f"Bearer {token}", HTTP_ORIGIN="https://shop.example"
    )
    assert seen.status_code == 200, seen.content
    assert seen.json()["conversation_id"] == started["conversation_id"]
    assert [m["text"] for m in seen.json()["messages"]] == ["We found your lost parcel"]


def test_a_contact_without_an_identity_is_refused(
    agent, tg_inbox, web_inbox, stand_in, django_capture_on_commit_callbacks
):
    contact = ContactFactory()
    ContactIdentityFactory(contact=contact, kind="sms", external_id="+14155550999")
    before = snapshot()
    for inbox in (tg_inbox, web_inbox):
        with pytest.raises(SwitchError) as refused:
            start(
                django_capture_on_commit_callbacks,
                contact_id=contact.pk,
                inbox_id=inbox.pk,
                by_user_id=agent.pk,
                text="hello",
            )
        assert refused.value.code == "no_identity"
    assert snapshot() == before and stand_in.requests == []


def test_an_agent_not_serving_the_inbox_is_refused(tg_inbox, stand_in, django_capture_on_commit_callbacks):
    outsider = UserFactory(username="agent-elsewhere", role=AGENT)
    AgentProfileFactory(user=outsider, queues=[QueueFactory(name="Elsewhere")])
    identity = ContactIdentityFactory(kind="telegram", external_id="777000222")
    before = snapshot()
    with pytest.raises(SwitchError) as refused:
        start(
            django_capture_on_commit_callbacks,
            contact_id=identity.contact_id,
            inbox_id=tg_inbox.pk,
            by_user_id=outsider.pk,
            text="hello",
        )
    assert refused.value.code == "forbidden"
    assert snapshot() == before and stand_in.requests == []


def test_a_retried_start_returns_the_first_conversation(agent, tg_inbox, stand_in, django_capture_on_commit_callbacks):
    stand_in.default = Reply(200, {"ok": True, "result": {"message_id": 43}})
    identity = ContactIdentityFactory(kind="telegram", external_id="777000333")
    kwargs = {"contact_id": identity.contact_id, "inbox_id": tg_inbox.pk, "by_user_id": agent.pk, "text": "Hi!"}
    first = start(django_capture_on_commit_callbacks, client_key="start-1", **kwargs)
    again = start(django_capture_on_commit_callbacks, client_key="start-1", **kwargs)
    assert first["created"] and not again["created"]
    assert again["conversation_id"] == first["conversation_id"] and again["message"]["id"] == first["message"]["id"]
    assert Conversation.objects.count() == 1 and Message.objects.count() == 1 and len(stand_in.requests) == 1


def test_an_open_conversation_is_returned_with_the_message_or_refused(
    agent, tg_inbox, stand_in, django_capture_on_commit_callbacks
):
    stand_in.default = Reply(200, {"ok": True, "result": {"message_id": 44}})
    identity = ContactIdentityFactory(kind="telegram", external_id="777000444")
    kwargs = {"contact_id": identity.contact_id, "inbox_id": tg_inbox.pk}
    first = start(django_capture_on_commit_callbacks, by_user_id=agent.pk, text="One", **kwargs)
    # The agent who holds it: the open conversation comes back with the new message (as Chatwoot does).
    second = start(django_capture_on_commit_callbacks, by_user_id=agent.pk, text="Two", **kwargs)
    assert second == {"conversation_id": first["conversation_id"], "created": False, "message": second["message"]}
    assert second["message"]["seq"] == 2 and len(stand_in.requests) == 2
    # Another agent of the same queue may not see it: refused, nothing changes.
    colleague = UserFactory(username="agent-colleague", role=AGENT)
    AgentProfileFactory(user=colleague, queues=[tg_inbox.default_queue])
    before = snapshot()
    with pytest.raises(SwitchError) as refused:
        start(django_capture_on_commit_callbacks, by_user_id=colleague.pk, text="Three", **kwargs)
    assert refused.value.code == "conversation_open"
    assert snapshot() == before and len(stand_in.requests) == 2


def test_an_agent_at_capacity_is_refused_and_routing_keeps_nothing(
    agent, tg_inbox, stand_in, django_capture_on_commit_callbacks
):
    AgentProfile.objects.filter(user=agent).update(default_capacity=0)
    identity = ContactIdentityFactory(kind="telegram", external_id="777000555")
    before = snapshot()
    with pytest.raises(SwitchError) as refused:
        start(
            django_capture_on_commit_callbacks,
            contact_id=identity.contact_id,
            inbox_id=tg_inbox.pk,
            by_user_id=agent.pk,
            text="hello",
        )
    assert refused.value.code == "over_capacity"
    assert snapshot() == before and stand_in.requests == []
    from routing.backends import get_backend

    assert get_backend().items == {}


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"text": "a", "template": {"name": "order_update", "language": "en_US", "params": []}}, "invalid"),
        ({}, "invalid"),
        ({"text": "   "}, "empty"),
        ({"text": "x" * 5000}, "too_long"),
        ({"text": "a", "client_key": ""}, "invalid"),
        ({"template": {"name": "order_update", "language": "en_US", "params": ["Ada"]}}, "invalid"),
        ({"template": {"name": "nope", "language": "en_US", "params": []}}, "invalid"),
        ({"template": "order_update"}, "invalid"),
    ],
)
def test_bad_starts_are_refused(agent, wa_inbox, stand_in, django_capture_on_commit_callbacks, kwargs, code):
    identity = ContactIdentityFactory(kind="whatsapp", external_id="16315551181")
    before = snapshot()
    with pytest.raises(SwitchError) as refused:
        start(
            django_capture_on_commit_callbacks,
            contact_id=identity.contact_id,
            inbox_id=wa_inbox.pk,
            by_user_id=agent.pk,
            **kwargs,
        )
    assert refused.value.code == code
    assert snapshot() == before and stand_in.requests == []


# --- The console's API and the contact page ------------------------------------------------------------


def test_the_console_api_lists_inboxes_and_starts(
    client, agent, wa_inbox, tg_inbox, stand_in, django_capture_on_commit_callbacks
):
    stand_in.default = Reply(200, {"ok": True, "result": {"message_id": 45}})
    identity = ContactIdentityFactory(kind="telegram", external_id="777000666")
    InboxFactory(kind="telegram", key="tg-elsewhere", default_queue=QueueFactory(name="Not mine"))
    client.force_login(agent)
    url = f"/api/v1/agent/contacts/{identity.contact_id}/conversations"
    listed = client.get(url).json()["inboxes"]
    assert [(i["kind"], i["reachable"]) for i in listed] == [("telegram", True), ("whatsapp", False)]
    assert [t["name"] for t in next(i for i in listed if i["kind"] == "whatsapp")["templates"]] == ["order_update"]
    body = {"inbox_id": tg_inbox.pk, "text": "Hello from the console", "client_id": "k-1"}
    with django_capture_on_commit_callbacks(execute=True):
        first = client.post(url, json.dumps(body), content_type="application/json")
    assert first.status_code == 201, first.content
    again = client.post(url, json.dumps(body), content_type="application/json")
    assert again.status_code == 200 and again.json()["conversation_id"] == first.json()["conversation_id"]
    assert len(stand_in.requests) == 1
    # A refusal in the one error shape, nothing stored.
    refused = client.post(url, json.dumps({"inbox_id": wa_inbox.pk, "text": "hi"}), content_type="application/json")
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "no_identity"
    assert Conversation.objects.count() == 1


def test_the_console_api_refuses_bad_bodies_and_other_inboxes(client, agent, tg_inbox):
    identity = ContactIdentityFactory(kind="telegram", external_id="777000777")
    other = InboxFactory(kind="telegram", key="tg-other", default_queue=QueueFactory(name="Other"))
    client.force_login(agent)
    url = f"/api/v1/agent/contacts/{identity.contact_id}/conversations"
    for body, status, code in [
        ({"inbox_id": "1", "text": "x"}, 400, "invalid"),
        ({"inbox_id": tg_inbox.pk, "text": "x", "priority": 1}, 400, "invalid"),
        ({"inbox_id": other.pk, "text": "x"}, 403, "forbidden"),
        ({"inbox_id": 999999, "text": "x"}, 404, "not_found"),
    ]:
        answer = client.post(url, json.dumps(body), content_type="application/json")
        assert (answer.status_code, answer.json()["error"]["code"]) == (status, code), body
    missing = client.post("/api/v1/agent/contacts/999999/conversations", "{}", content_type="application/json")
    assert missing.status_code == 404
    assert Conversation.objects.count() == 0


def test_the_contact_page_offers_new_conversation(client, agent):
    contact = ContactFactory(name="<b>Ada</b>")
    client.force_login(agent)
    page = client.get(f"/crm/contacts/{contact.pk}/").content.decode()
    assert f'data-outbound-url="/api/v1/agent/contacts/{contact.pk}/conversations"' in page
    assert "crm/outbound" in page and "<b>Ada</b>" not in page
