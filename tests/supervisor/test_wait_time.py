"""The customer's wait is one figure everywhere: a conversation driven through an offer that expires, an
overflow to another queue, an acceptance and a transfer back (the real services, routing on Redis) shows
the same wait, counted from the hand-over, on the snapshot API, both supervisor sockets, /metrics, the
supervisor's and the console's conversation lists, the reports and the customer's queue status.

The test process's clock is moved by hand (django.utils.timezone.now); routing decides on the times it is
given, so its timers fire when the test says.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from imsubsystem import selectors as switch_selectors
from imsubsystem import services as switch
from imsubsystem.models import Conversation, ConversationStatus
from routing import services as routing
from routing.models import AgentProfile, Offer, OfferStatus
from supervisor import stats
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db(transaction=True)


class Clock:
    def __init__(self, start):
        self.at = start

    def __call__(self):
        return self.at

    def advance_to(self, seconds: float):
        self.at = self.start + timedelta(seconds=seconds)


def clock_start():
    """Now, or the next midnight when the five minutes of the story would cross one ("today" must hold
    it). Not earlier than now: rows stamped by their field default (created_at) read the real clock."""
    real = timezone.localtime().replace(microsecond=0)
    if (real + timedelta(minutes=10)).date() != real.date():
        real = (real + timedelta(days=1)).replace(hour=0, minute=0, second=1)
    return real


@pytest.fixture
def clock(monkeypatch):
    clock = Clock(clock_start())
    clock.start = clock.at
    monkeypatch.setattr(timezone, "now", clock)
    return clock


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _communicator(user, path):
    from config.asgi import application

    cookie = client_for(user).cookies["sessionid"].value
    return WebsocketCommunicator(
        application, path, headers=[(b"host", b"testserver"), (b"cookie", f"sessionid={cookie}".encode())]
    )


def socket_frame(user, path, frame_type):
    communicator = _communicator(user, path)

    async def first():
        connected, _ = await communicator.connect()
        assert connected
        try:
            while True:
                frame = json.loads(await communicator.receive_from(timeout=10))
                if frame["type"] == frame_type:
                    return frame
        finally:
            await communicator.disconnect()

    return async_to_sync(first)()


def metrics_oldest_wait(queue_name: str) -> float:
    body = Client().get("/metrics", REMOTE_ADDR="127.0.0.1").content.decode()
    found = re.search(rf'^switchboard_queue_oldest_wait_seconds\{{queue="{queue_name}"\}} (\S+)$', body, re.M)
    assert found, body
    return float(found.group(1))


def every_surface(teams, conversation_id: int) -> dict[str, object]:
    """The wait of the one conversation waiting in Sales, as every surface shows it."""
    # The snapshot is shared for a second of real time: read this moment's. (Not cache.clear(): the cache
    # shares its Redis database with routing in the tests.)
    cache.delete(stats.SNAPSHOT_KEY)
    sales = teams["sales"]
    snapshot = client_for(teams["sup_a"]).get("/supervisor/api/snapshot").json()
    (queue,) = [q for q in snapshot["queues"] if q["queue_id"] == sales.pk]
    live = socket_frame(teams["sup_a"], "/ws/v1/supervisor/live/", "supervisor.snapshot")
    (live_queue,) = [q for q in live["queues"] if q["queue_id"] == sales.pk]
    contract = socket_frame(teams["sup_a"], "/ws/v1/supervisor/", "queue.stats")
    (contract_queue,) = [q for q in contract["queues"] if q["queue_id"] == sales.pk]
    listed = client_for(teams["sup_a"]).get("/supervisor/api/conversations").json()["conversations"]
    (row,) = [c for c in listed if c["id"] == conversation_id]
    console = client_for(teams["ag_a"]).get("/api/v1/agent/queue").json()["conversations"]
    (entry,) = [c for c in console if c["id"] == conversation_id]
    conversation = Conversation.objects.get(pk=conversation_id)
    status = switch_selectors.customer_status(conversation)
    return {
        "snapshot API": queue["longest_wait_s"],
        "supervisor socket": live_queue["longest_wait_s"],
        "queue.stats socket": contract_queue["longest_wait_s"],
        "/metrics": int(metrics_oldest_wait(sales.name)),
        "supervisor list": row["wait_s"],
        "console queue": entry["wait_s"],
        "console waiting since": int((timezone.now() - _parse(entry["waiting_since"])).total_seconds()),
        "customer status": status["queue"]["waited_s"],
    }


def _parse(iso: str):
    from datetime import datetime

    return datetime.fromisoformat(iso)


def test_the_customers_wait_is_one_figure_across_expiry_overflow_and_transfer(teams, clock):
    sales, support = teams["sales"], teams["support"]
    sales.max_wait_s = 120
    sales.overflow_queue = support
    sales.save()
    # ag-a lets one offer expire and goes away; ag-b (Support) is there for the overflow.
    AgentProfile.objects.filter(user=teams["ag_a"]).update(auto_away_after_missed=1)
    for agent in (teams["ag_a"], teams["ag_b"]):
        switch.agent_presence_set(agent_id=agent.pk, status="available")

    # t = 0: the hand-over to a person. ag-a is offered the conversation at once.
    conversation_id = switch.conversation_for_customer(inbox_id=teams["sales_inbox"].pk, contact_id=ContactFactory().pk)
    conversation = Conversation.objects.get(pk=conversation_id)
    if conversation.status == ConversationStatus.BOT:
        switch.conversation_queue(conversation_id=conversation_id)
    assert Conversation.objects.get(pk=conversation_id).status == ConversationStatus.OFFERED

    # t = 31: the offer expired; ag-a went away; the customer waits on in Sales.
    clock.advance_to(31)
    routing.routing_tick(now=clock.at)
    assert Offer.objects.filter(ref=conversation_id, status=OfferStatus.EXPIRED).count() == 1
    conversation = Conversation.objects.get(pk=conversation_id)
    assert conversation.status == ConversationStatus.QUEUED
    assert switch_selectors.customer_wait_s(conversation) == 31

    # t = 121: Sales overflows to Support, where ag-b is offered it.
    clock.advance_to(121)
    routing.routing_tick(now=clock.at)
    conversation = Conversation.objects.get(pk=conversation_id)
    assert (conversation.status, conversation.queue_id) == (ConversationStatus.OFFERED, support.pk)
    assert switch_selectors.customer_wait_s(conversation) == 121

    # t = 150: ag-b accepts: the customer waited 150 s.
    clock.advance_to(150)
    offer = Offer.objects.get(ref=conversation_id, status=OfferStatus.OPEN)
    switch.offer_answer(offer_id=offer.pk, agent_id=teams["ag_b"].pk, accept=True)
    conversation = Conversation.objects.get(pk=conversation_id)
    assert conversation.status == ConversationStatus.ASSIGNED
    assert switch_selectors.customer_wait_s(conversation) == 150

    # t = 200: ag-b transfers it to Sales, where nobody is available: a new leg; the total is kept.
    clock.advance_to(200)
    switch.conversation_transfer(conversation_id=conversation_id, by_user_id=teams["ag_b"].pk, queue_id=sales.pk)
    conversation = Conversation.objects.get(pk=conversation_id)
    assert (conversation.status, conversation.queue_id) == (ConversationStatus.QUEUED, sales.pk)
    assert conversation.queued_at == clock.at  # the leg starts here

    # t = 260: 150 s before the transfer and 60 s since.
    clock.advance_to(260)
    figures = every_surface(teams, conversation_id)
    assert figures == dict.fromkeys(figures, 210), figures

    # t = 300: ag-a is back and takes it: the customer waited 250 s in all, which the reports and the
    # day's average wait show.
    clock.advance_to(300)
    switch.agent_presence_set(agent_id=teams["ag_a"].pk, status="available")
    offer = Offer.objects.get(ref=conversation_id, status=OfferStatus.OPEN)
    switch.offer_answer(offer_id=offer.pk, agent_id=teams["ag_a"].pk, accept=True)
    conversation = Conversation.objects.get(pk=conversation_id)
    assert conversation.status == ConversationStatus.ASSIGNED
    assert switch_selectors.customer_wait_s(conversation) == 250
    cache.delete(stats.SNAPSHOT_KEY)
    snapshot = client_for(teams["sup_a"]).get("/supervisor/api/snapshot").json()
    (queue,) = [q for q in snapshot["queues"] if q["queue_id"] == sales.pk]
    assert (queue["waiting"], queue["longest_wait_s"]) == (0, 0)
    assert queue["today"]["average_wait_s"] == 250.0
    day = timezone.localdate()
    csv = client_for(teams["sup_a"]).get("/supervisor/reports.csv", {"start": day, "end": day}).content.decode()
    header, row = csv.strip().splitlines()
    assert dict(zip(header.split(","), row.split(","), strict=True))["average_wait_s"] == "250.0"
    assert (
        stats.report_rows(
            start=clock.start - timedelta(hours=1),
            end=clock.at + timedelta(hours=1),
            period="day",
            dimension="queue",
            queue_ids=[sales.pk],
        )[0]["service_level"]
        == 0.0
    )  # 250 s is past Sales's 60 s threshold
