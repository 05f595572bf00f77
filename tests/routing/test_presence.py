"""Presence follows the console: routing offers work only to agents with a live console socket, counts
an agent disconnected after the grace without one, re-offers their open offers at once, and gives them
back the status they chose when a console connects again. Through the services, MySQL and the ledger,
on the memory and the Redis backend."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from routing import selectors, services
from routing.backends import channel_kinds, set_backend
from routing.backends.memory import MemoryBackend
from routing.backends.redis import RedisBackend
from routing.models import AgentProfile, Offer, OfferStatus
from tests.factories import AgentProfileFactory, QueueFactory


@pytest.fixture(params=["memory", "redis"])
def backend(request):
    if request.param == "memory":
        chosen = MemoryBackend(channel_kinds=channel_kinds())
    else:
        chosen = RedisBackend({"url": settings.REDIS_URL, "prefix": "rt-presence-test"}, channel_kinds=channel_kinds())
        for key in chosen.client.scan_iter(match="rt-presence-test*"):
            chosen.client.delete(key)
        chosen.mark_built()
    previous = set_backend(chosen)
    yield chosen
    set_backend(previous)
    if request.param == "redis":
        for key in chosen.client.scan_iter(match="rt-presence-test*"):
            chosen.client.delete(key)


@pytest.fixture
def two_agents(backend):
    queue = QueueFactory(name="Presence")
    a = AgentProfileFactory(queues=[queue])
    b = AgentProfileFactory(queues=[queue])
    services.agent_console_open(agent_id=a.user_id, console="a-1")
    services.agent_console_open(agent_id=b.user_id, console="b-1")
    services.agent_presence_set(agent_id=a.user_id, status="available")
    return queue, a, b


def _offered_to(ref: int) -> int:
    return Offer.objects.get(ref=ref, status=OfferStatus.OPEN).agent_id


@pytest.mark.django_db(transaction=True)
def test_agent_whose_last_console_closed_gets_no_offers_after_the_grace(two_agents, settings):
    settings.ROUTING_CONSOLE_GRACE_S = 30
    queue, a, b = two_agents
    services.work_enqueue(ref=1, queue_id=queue.pk, channel_kind="web")
    assert _offered_to(1) == a.user_id  # the offer that is out when the console goes
    services.agent_presence_set(agent_id=b.user_id, status="available")

    assert services.agent_console_close(agent_id=a.user_id, console="a-1") == 0
    # Within the grace nothing changes (a reload reconnects in time).
    assert services.agent_consoles_sweep(now=timezone.now() + timedelta(seconds=29)) == []
    assert AgentProfile.objects.get(pk=a.pk).connected is True

    assert services.agent_consoles_sweep(now=timezone.now() + timedelta(seconds=31)) == [a.user_id]
    a.refresh_from_db()
    assert (a.status, a.connected) == ("available", False)  # the chosen status stays
    assert selectors.agent_load(agent_id=a.user_id)["status"] == "disconnected"
    # The offer that was out went to the other agent at once, not after its 30 s timeout.
    assert _offered_to(1) == b.user_id
    assert Offer.objects.get(ref=1, agent_id=a.user_id).status == OfferStatus.CANCELLED
    # New work goes to b; a is not offered anything while disconnected.
    services.work_enqueue(ref=2, queue_id=queue.pk, channel_kind="web")
    assert _offered_to(2) == b.user_id
    assert not Offer.objects.filter(agent_id=a.user_id, status=OfferStatus.OPEN).exists()
    stats = {q["queue_id"]: q for q in selectors.queue_stats()}[queue.pk]
    assert stats["agents"]["disconnected"] == 1 and stats["agents"]["available"] == 1

    # A console connects again: the agent is back with the status they chose, and gets offers.
    services.agent_console_open(agent_id=a.user_id, console="a-2")
    a.refresh_from_db()
    assert (a.status, a.connected) == ("available", True)
    assert selectors.agent_load(agent_id=a.user_id)["status"] == "available"
    services.work_enqueue(ref=3, queue_id=queue.pk, channel_kind="web")
    assert _offered_to(3) == a.user_id


@pytest.mark.django_db(transaction=True)
def test_second_console_or_a_reload_within_the_grace_keeps_the_agent(two_agents, settings):
    settings.ROUTING_CONSOLE_GRACE_S = 30
    _, a, _ = two_agents
    services.agent_console_open(agent_id=a.user_id, console="a-2")
    assert services.agent_console_close(agent_id=a.user_id, console="a-1") == 1
    assert services.agent_consoles_sweep(now=timezone.now() + timedelta(seconds=20)) == []
    assert services.agent_console_close(agent_id=a.user_id, console="a-2") == 0
    services.agent_console_open(agent_id=a.user_id, console="a-3")  # the reload's new socket
    assert services.agent_consoles_sweep(now=timezone.now() + timedelta(seconds=31)) == []
    assert AgentProfile.objects.get(pk=a.pk).connected is True


@pytest.mark.django_db(transaction=True)
def test_console_that_stops_beating_lapses_without_being_closed(two_agents, backend, settings):
    """A server process killed with its sockets closes nothing: the console lapses after three missed
    heartbeats and the grace, and routing_tick (beat) counts the agent disconnected."""
    settings.ROUTING_CONSOLE_GRACE_S = 5
    settings.ROUTING_CONSOLE_HEARTBEAT_S = 10
    queue, a, b = two_agents
    services.agent_presence_set(agent_id=b.user_id, status="available")
    start = timezone.now()
    services.routing_tick(now=start + timedelta(seconds=34))
    assert AgentProfile.objects.get(pk=a.pk).connected is True  # deadline (3 x 10 s) + grace not passed
    # b's process beats on (a later heartbeat of its console); a's process died and beats no more.
    later_ms = int((start + timedelta(seconds=30)).timestamp() * 1000)
    backend.console_beat(agent_id=b.user_id, console="b-1", now_ms=later_ms, ttl_ms=30_000)
    services.routing_tick(now=start + timedelta(seconds=36))
    assert AgentProfile.objects.get(pk=a.pk).connected is False
    assert AgentProfile.objects.get(pk=b.pk).connected is True
    services.work_enqueue(ref=9, queue_id=queue.pk, channel_kind="web")
    assert _offered_to(9) == b.user_id


@pytest.mark.django_db(transaction=True)
def test_rebuild_keeps_a_disconnected_agent_out_of_routing(two_agents, settings):
    settings.ROUTING_CONSOLE_GRACE_S = 1
    queue, a, b = two_agents
    services.agent_presence_set(agent_id=b.user_id, status="available")
    services.agent_console_close(agent_id=a.user_id, console="a-1")
    services.agent_consoles_sweep(now=timezone.now() + timedelta(seconds=2))
    services.routing_rebuild()
    assert selectors.agent_load(agent_id=a.user_id)["status"] == "disconnected"
    services.work_enqueue(ref=5, queue_id=queue.pk, channel_kind="web")
    assert _offered_to(5) == b.user_id


@pytest.mark.django_db(transaction=True)
def test_connected_agents_without_a_console_get_the_grace_when_presence_was_lost(two_agents, settings):
    """What the embedded default's ticker does when its process starts (the console registry died with
    the old process): every agent counted connected who chose to work gets the grace; those whose
    console connects in time stay, the others are counted disconnected."""
    settings.ROUTING_CONSOLE_GRACE_S = 30
    queue, a, b = two_agents
    services.agent_presence_set(agent_id=b.user_id, status="available")
    c = AgentProfileFactory(queues=[queue], status="available")  # never had a console
    d = AgentProfileFactory(queues=[queue], status="offline")
    services.agent_console_close(agent_id=a.user_id, console="a-1")
    services.agent_console_close(agent_id=b.user_id, console="b-1")
    started = services.agent_consoles_expect()
    assert sorted(started) == [c.user_id]  # a and b are already in their grace; d chose offline
    services.agent_console_open(agent_id=b.user_id, console="b-2")  # b's console reconnects in time
    swept = services.agent_consoles_sweep(now=timezone.now() + timedelta(seconds=31))
    assert sorted(swept) == sorted([a.user_id, c.user_id])
    assert [p.connected for p in AgentProfile.objects.filter(pk__in=[a.pk, b.pk, c.pk, d.pk]).order_by("pk")] == [
        False,
        True,
        False,
        True,
    ]
