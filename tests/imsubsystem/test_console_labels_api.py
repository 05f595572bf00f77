"""The console's labels, close reasons and snooze endpoints (/api/v1/agent/): each through the one
visibility rule (another team's agent gets 404, as for a conversation that does not exist), bad input
refused with nothing changed, and the lists carrying each conversation's labels."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from imsubsystem.models import CloseReason, Conversation, Label
from imsubsystem.models import ConversationStatus as S
from tests.factories import ContactFactory, ConversationFactory, QueueFactory

pytestmark = pytest.mark.django_db(transaction=True)


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def held(inbox, queue, make_agent):
    alice = make_agent("alice")
    conversation = ConversationFactory(
        inbox=inbox, contact=ContactFactory(), status=S.ASSIGNED, assignee=alice, queue=queue
    )
    return alice, conversation


def test_labels_through_the_console(held, make_agent):
    alice, conversation = held
    vip = Label.objects.create(name="<b>VIP</b>", colour="#aa0000")
    Label.objects.create(name="Old", colour="#000000", is_active=False)
    CloseReason.objects.create(code="solved", name="Solved")
    client = _client(alice)
    listed = client.get("/api/v1/agent/labels").json()
    assert [label["name"] for label in listed["labels"]] == ["<b>VIP</b>"]
    assert listed["close_reasons"] == [{"code": "solved", "name": "Solved"}]

    url = f"/api/v1/agent/conversations/{conversation.pk}/labels"
    response = client.post(url, {"label_ids": [vip.pk]}, content_type="application/json")
    assert response.status_code == 200, response.content
    assert response.json()["labels"] == [{"id": vip.pk, "name": "<b>VIP</b>", "colour": "#aa0000"}]
    mine = client.get("/api/v1/agent/conversations").json()["conversations"]
    assert mine[0]["labels"] == [{"id": vip.pk, "name": "<b>VIP</b>", "colour": "#aa0000"}]

    response = client.post(url, {"label_ids": [424242]}, content_type="application/json")
    assert (response.status_code, response.json()["error"]["code"]) == (400, "invalid")
    bob = make_agent("bob", queues=[QueueFactory(name="Elsewhere")])
    response = _client(bob).post(url, {"label_ids": []}, content_type="application/json")
    assert response.status_code == 404
    assert list(Conversation.objects.get(pk=conversation.pk).labels.all()) == [vip]


def test_snooze_through_the_console(held, make_agent):
    alice, conversation = held
    url = f"/api/v1/agent/conversations/{conversation.pk}/snooze"
    client = _client(alice)
    past = (timezone.now() - timedelta(minutes=5)).isoformat()
    for body in ({"until": past}, {"until": "tomorrow"}, {"until": "2026-12-06T10:00:00"}):
        response = client.post(url, body, content_type="application/json")
        assert (response.status_code, response.json()["error"]["code"]) == (400, "invalid"), body
    bob = make_agent("bob", queues=[QueueFactory(name="Elsewhere")])
    assert _client(bob).post(url, {}, content_type="application/json").status_code == 404
    assert Conversation.objects.get(pk=conversation.pk).snoozed_at is None

    response = client.post(url, {"until": None}, content_type="application/json")
    assert response.json() == {"conversation_id": conversation.pk, "snoozed_until": None}
    summary = client.get("/api/v1/agent/conversations").json()["conversations"][0]
    assert (summary["snoozed"], summary["snoozed_until"]) == (True, None)
    response = client.post(f"/api/v1/agent/conversations/{conversation.pk}/unsnooze", content_type="application/json")
    assert response.json()["woke"] is True
    assert Conversation.objects.get(pk=conversation.pk).snoozed_at is None
