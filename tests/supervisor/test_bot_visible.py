"""Conversations with the bot are visible: supervisors see how many customers talk to the bot, per inbox
and within their teams, and can open any of them; over HTTP and both supervisor sockets."""

from __future__ import annotations

import json

import pytest
from django.core.cache import cache
from django.test import Client

from crm.roles import ADMIN
from imsubsystem.events import frame_validate
from imsubsystem.models import ConversationStatus as S
from tests.factories import ContactFactory, ConversationFactory, InboxFactory, UserFactory
from tests.supervisor.test_scope import _communicator


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def bot_talks(teams):
    """Sales: two customers with the bot in the web inbox, one in a second inbox of the same queue, one
    queued. Support: one with the bot. And one with the bot in an inbox with no queue at all."""
    sales_app = InboxFactory(key="sales-app", name="Sales app", default_queue=teams["sales"])
    no_queue = InboxFactory(key="lobby", name="Lobby", default_queue=None)
    made = {
        "sales_bot": [
            ConversationFactory(inbox=teams["sales_inbox"], contact=ContactFactory(), status=S.BOT) for _ in range(2)
        ],
        "sales_app_bot": ConversationFactory(inbox=sales_app, contact=ContactFactory(), status=S.BOT),
        "sales_queued": ConversationFactory(inbox=teams["sales_inbox"], contact=ContactFactory(), status=S.QUEUED),
        "support_bot": ConversationFactory(inbox=teams["support_inbox"], contact=ContactFactory(), status=S.BOT),
        "lobby_bot": ConversationFactory(inbox=no_queue, contact=ContactFactory(), status=S.BOT),
        "sales_app": sales_app,
    }
    ConversationFactory(inbox=teams["sales_inbox"], contact=ContactFactory(), status=S.CLOSED)
    return made


def test_snapshot_counts_customers_with_the_bot_per_inbox_in_scope(teams, bot_talks):
    body = client_for(teams["sup_a"]).get("/supervisor/api/snapshot").json()
    assert body["bot"] == {
        "total": 3,
        "inboxes": [
            {"inbox_id": teams["sales_inbox"].pk, "name": teams["sales_inbox"].name, "count": 2},
            {"inbox_id": bot_talks["sales_app"].pk, "name": "Sales app", "count": 1},
        ],
    }
    body = client_for(teams["sup_b"]).get("/supervisor/api/snapshot").json()
    assert body["bot"]["total"] == 1
    assert [i["inbox_id"] for i in body["bot"]["inboxes"]] == [teams["support_inbox"].pk]
    admin = UserFactory(username="boss", role=ADMIN)
    assert client_for(admin).get("/supervisor/api/snapshot").json()["bot"]["total"] == 5  # the lobby too


def test_supervisor_lists_and_opens_conversations_with_the_bot(teams, bot_talks):
    sup_a = client_for(teams["sup_a"])
    listed = sup_a.get("/supervisor/api/conversations", {"status": "bot"}).json()["conversations"]
    expected = {c.pk for c in bot_talks["sales_bot"]} | {bot_talks["sales_app_bot"].pk}
    assert {c["id"] for c in listed} == expected
    assert {c["status"] for c in listed} == {"bot"}
    everything = {c["id"] for c in sup_a.get("/supervisor/api/conversations").json()["conversations"]}
    assert everything == expected | {bot_talks["sales_queued"].pk}
    one = bot_talks["sales_bot"][0]
    assert sup_a.get(f"/supervisor/conversations/{one.pk}/").status_code == 200
    assert sup_a.get(f"/supervisor/api/conversations/{one.pk}").json()["conversation"]["status"] == "bot"
    # Another team's, and the queue-less lobby's, stay out of reach.
    assert sup_a.get(f"/supervisor/conversations/{bot_talks['support_bot'].pk}/").status_code == 404
    assert sup_a.get(f"/supervisor/conversations/{bot_talks['lobby_bot'].pk}/").status_code == 404
    response = sup_a.get("/supervisor/api/conversations", {"status": "closed"})
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid"


@pytest.mark.django_db(transaction=True)
async def test_both_supervisor_sockets_carry_the_bot_count(teams, bot_talks):
    from asgiref.sync import sync_to_async

    await sync_to_async(cache.clear)()
    for path, kind in (("/ws/v1/supervisor/live/", "supervisor.snapshot"), ("/ws/v1/supervisor/", "queue.stats")):
        communicator = await sync_to_async(_communicator)(teams["sup_a"], path=path)
        connected, _ = await communicator.connect()
        assert connected
        while (frame := json.loads(await communicator.receive_from(timeout=5)))["type"] != kind:
            pass
        if kind == "queue.stats":
            frame_validate(frame, direction="server")
        assert frame["bot"]["total"] == 3, path
        await communicator.disconnect()
