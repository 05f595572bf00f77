"""Timers, rebuilding Redis from MySQL, the admin and the demo data."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
import redis
from django.conf import settings
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone

from routing import rebuild, selectors, services
from routing.backends import channel_kinds, set_backend
from routing.backends.redis import RedisBackend
from routing.exceptions import RoutingError
from routing.models import AgentProfile, AgentStatus, Offer, OfferStatus, Queue, WorkItem, WorkStatus
from routing.terms import queue_settings
from switchboard import timers
from tests.factories import AgentProfileFactory, QueueFactory, UserFactory


@pytest.fixture
def redis_backend():
    backend = RedisBackend({"url": settings.REDIS_URL}, channel_kinds=channel_kinds())
    previous = set_backend(backend)
    yield backend
    set_backend(previous)


@pytest.mark.django_db(transaction=True)
def test_tick_expires_offers_and_sets_agent_away_after_missed_offers():
    queue = QueueFactory(offer_timeout_s=10)
    profile = AgentProfileFactory(queues=[queue], auto_away_after_missed=1)
    services.agent_presence_set(agent_id=profile.user_id, status="available")
    services.work_enqueue(ref=1, queue_id=queue.pk, channel_kind="web")
    assert services.routing_tick() == 0
    handled = services.routing_tick(now=timezone.now() + timedelta(seconds=11))
    assert handled == 1
    assert Offer.objects.get(ref=1).status == OfferStatus.EXPIRED
    assert WorkItem.objects.get(ref=1).status == WorkStatus.WAITING
    assert AgentProfile.objects.get(pk=profile.pk).status == AgentStatus.AWAY


@pytest.mark.django_db(transaction=True)
def test_tick_overflows_after_max_wait():
    support = QueueFactory(name="Support")
    sales = QueueFactory(name="Sales", max_wait_s=60, overflow_queue=support)
    services.work_enqueue(ref=5, queue_id=sales.pk, channel_kind="web")
    services.routing_tick(now=timezone.now() + timedelta(seconds=30))
    assert WorkItem.objects.get(ref=5).queue_id == sales.pk
    services.routing_tick(now=timezone.now() + timedelta(seconds=61))
    assert WorkItem.objects.get(ref=5).queue_id == support.pk
    assert [row["ref"] for row in selectors.queue_waiting(queue_id=support.pk)] == [5]


@pytest.mark.django_db(transaction=True)
def test_inprocess_ticker_expires_an_offer_and_offers_the_next_agent(monkeypatch):
    queue = QueueFactory(offer_timeout_s=1)
    agents = [AgentProfileFactory(queues=[queue], default_capacity=1) for _ in range(2)]
    for profile in agents:
        services.agent_presence_set(agent_id=profile.user_id, status="available")
    services.work_enqueue(ref=7, queue_id=queue.pk, channel_kind="web")
    first = Offer.objects.get(ref=7)
    (other,) = {profile.user_id for profile in agents} - {first.agent_id}

    timers.beat_reset_for_tests()
    stop = threading.Event()
    try:
        # The embedded default's one timer loop, running beat's routing-tick entry (every 1 s scaled to 0.05 s).
        assert timers.beat_start(stop=stop, tick_s=0.02, only=["routing-tick"], scale=0.05) is True
        assert timers.beat_start(stop=stop, tick_s=0.02, only=["routing-tick"], scale=0.05) is False
        # Nothing here ticks: only the ticker's thread, calling the real routing_tick, can expire the offer.
        # The bound is generous (the 1 s timeout plus a loaded machine); no speed is asserted.
        for _ in range(600):
            if Offer.objects.filter(ref=7, status=OfferStatus.OPEN).exclude(pk=first.pk).exists():
                break
            stop.wait(0.05)
    finally:
        stop.set()
        for thread in threading.enumerate():
            if thread.name == "inprocess-beat":
                thread.join(10)
        timers.beat_reset_for_tests()
    assert Offer.objects.get(pk=first.pk).status == OfferStatus.EXPIRED
    second = Offer.objects.get(ref=7, status=OfferStatus.OPEN)
    assert second.agent_id == other
    assert WorkItem.objects.get(ref=7).status == WorkStatus.OFFERED


@pytest.mark.django_db(transaction=True)
def test_redis_flushed_then_rebuilt_from_mysql(redis_backend):
    sales = QueueFactory(name="Sales")
    support = QueueFactory(name="Support")
    busy = AgentProfileFactory(queues=[sales], default_capacity=2)
    services.agent_presence_set(agent_id=busy.user_id, status="available")
    now = timezone.now()
    for ref in range(1, 41):
        queue = sales if ref % 3 else support
        services.work_enqueue(
            ref=ref,
            queue_id=queue.pk,
            channel_kind="web",
            priority=int(ref % 4 == 0),
            enqueued_at=now - timedelta(seconds=1000 - (ref * 7919) % 997),
        )
    offer = Offer.objects.filter(status=OfferStatus.OPEN).first()
    services.offer_accept(offer_id=offer.pk, agent_id=busy.user_id)
    still_offered = Offer.objects.get(status=OfferStatus.OPEN)
    before = {q.pk: [r["ref"] for r in selectors.queue_waiting(queue_id=q.pk)] for q in (sales, support)}
    assert len(before[sales.pk]) + len(before[support.pk]) == 38

    redis.Redis.from_url(settings.REDIS_URL).flushdb()
    assert selectors.queue_waiting(queue_id=sales.pk) == []

    call_command("rebuild_routing", verbosity=0)
    # The open offer was withdrawn; every waiting item is back in its place, and the agent's free slot
    # goes to the head of the queue in MySQL's order (priority, then the oldest).
    assert Offer.objects.get(pk=still_offered.pk).status == OfferStatus.CANCELLED
    order = list(
        WorkItem.objects.filter(queue=sales, ref__in=[*before[sales.pk], still_offered.ref])
        .order_by("-priority", "enqueued_at")
        .values_list("ref", flat=True)
    )
    again = Offer.objects.get(status=OfferStatus.OPEN)
    assert again.ref == order[0]
    after = {q.pk: [r["ref"] for r in selectors.queue_waiting(queue_id=q.pk)] for q in (sales, support)}
    assert after[sales.pk] == order[1:]
    assert after[support.pk] == before[support.pk]
    assert selectors.agent_load(agent_id=busy.user_id)["load"] == 2
    # Decisions after the rebuild go on numbering after the ledger.
    services.work_complete(ref=offer.ref)
    assert WorkItem.objects.get(ref=offer.ref).status == WorkStatus.COMPLETED


@pytest.mark.django_db
def test_admin_pages(admin_client_role):
    queue = QueueFactory(name="Sales")
    AgentProfileFactory(queues=[queue], skills={"billing": 2})
    services.work_enqueue(ref=3, queue_id=queue.pk, channel_kind="web")
    for url in (
        "/admin/routing/queue/",
        "/admin/routing/agentprofile/",
        "/admin/routing/assignmentevent/",
        "/admin/routing/workitem/",
        "/admin/routing/offer/",
        "/admin/routing/skill/",
        f"/admin/routing/agentprofile/{AgentProfile.objects.get().pk}/change/",
    ):
        assert admin_client_role.get(url).status_code == 200, url
    assert admin_client_role.get("/admin/routing/assignmentevent/add/").status_code == 403


@pytest.mark.django_db
def test_admin_rebuild_action_refills_a_flushed_redis(admin_client_role, redis_backend):
    queue = QueueFactory(name="Sales")
    holder = AgentProfileFactory(queues=[queue], default_capacity=1)
    services.agent_presence_set(agent_id=holder.user_id, status="available")
    services.work_enqueue(ref=10, queue_id=queue.pk, channel_kind="web")
    services.offer_accept(offer_id=Offer.objects.get(ref=10).pk, agent_id=holder.user_id)
    # The holder is full, so these wait: (ref, priority, seconds waited).
    now = timezone.now()
    for ref, priority, waited_s in ((11, 0, 300), (12, 1, 100), (13, 0, 500), (14, 0, 200)):
        services.work_enqueue(
            ref=ref,
            queue_id=queue.pk,
            channel_kind="web",
            priority=priority,
            enqueued_at=now - timedelta(seconds=waited_s),
        )
    # Routing order: priority first (12), then the longest waiting: 13 (500 s), 11 (300 s), 14 (200 s).
    expected = [12, 13, 11, 14]
    assert [row["ref"] for row in selectors.queue_waiting(queue_id=queue.pk)] == expected

    redis.Redis.from_url(settings.REDIS_URL).flushdb()  # every routing key, the `built` marker too
    assert not redis_backend.built()
    assert selectors.queue_waiting(queue_id=queue.pk) == []
    assert selectors.agent_load(agent_id=holder.user_id)["load"] == 0

    response = admin_client_role.post(
        "/admin/routing/queue/", {"action": "rebuild_routing", "_selected_action": [queue.pk]}, follow=True
    )
    assert response.status_code == 200
    assert "Routing rebuilt: 1 queues, 1 agents, 5 items." in response.content.decode()
    assert redis_backend.built()
    assert [row["ref"] for row in selectors.queue_waiting(queue_id=queue.pk)] == expected
    assert selectors.agent_load(agent_id=holder.user_id)["load"] == 1
    assert list(WorkItem.objects.filter(status=WorkStatus.ASSIGNED).values_list("ref", "agent_id")) == [
        (10, holder.user_id)
    ]


@pytest.mark.django_db
def test_demo_seed_is_idempotent():
    for name in ("agent1", "agent2", "agent3"):
        UserFactory(username=name)
    from routing.demo import seed

    seed()
    seed()
    assert set(Queue.objects.values_list("name", flat=True)) == {"Sales", "Support"}
    assert Queue.objects.get(name="Sales").policy == "least_busy"
    profiles = AgentProfile.objects.filter(user__username__in=["agent1", "agent2", "agent3"])
    assert profiles.count() == 3
    assert all(p.default_capacity == 3 and p.queues.count() == 2 for p in profiles)


@pytest.mark.django_db(transaction=True)
def test_a_redis_restarted_empty_is_rebuilt_once_by_the_tick_or_the_next_decision(redis_backend, monkeypatch):
    queue = QueueFactory(name="Sales", offer_timeout_s=60)
    holder = AgentProfileFactory(queues=[queue], default_capacity=1)
    late = AgentProfileFactory(queues=[queue], default_capacity=2, status="offline")
    services.agent_presence_set(agent_id=holder.user_id, status="available")
    for ref in (1, 2, 3):
        services.work_enqueue(ref=ref, queue_id=queue.pk, channel_kind="web")
    services.offer_accept(offer_id=Offer.objects.get(ref=1).pk, agent_id=holder.user_id)
    assert [r["ref"] for r in selectors.queue_waiting(queue_id=queue.pk)] == [2, 3]

    client = redis.Redis.from_url(settings.REDIS_URL)
    client.flushdb()  # what a Redis without persistence holds after a restart
    assert not redis_backend.built()
    # A decision on the empty state is refused by the script itself (nothing numbered from 1 again).
    with pytest.raises(RoutingError) as refused:
        redis_backend.work_enqueue(
            ref=9, queue_id=queue.pk, kind="web", priority=0, skills=(), preferred_agent_id=0, enqueued_ms=0, now_ms=0
        )
    assert refused.value.code == "not_built"

    # Several processes notice at once (beat's tick, decisions): exactly one rebuilds, the others wait.
    rebuilds = []
    real_rebuild = rebuild._rebuild

    def counted(progress):
        rebuilds.append(1)
        return real_rebuild(progress)

    monkeypatch.setattr(rebuild, "_rebuild", counted)
    results = []

    def tick():
        try:
            services.routing_tick()
            results.append("ok")
        finally:
            connection.close()

    threads = [threading.Thread(target=tick) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == ["ok"] * 4
    assert len(rebuilds) == 1
    assert redis_backend.built()
    assert [r["ref"] for r in selectors.queue_waiting(queue_id=queue.pk)] == [2, 3]
    assert selectors.agent_load(agent_id=holder.user_id)["load"] == 1

    # After the rebuild the work goes on: an agent who becomes available gets the waiting work, and
    # the decisions land in MySQL (numbered past everything the ledger had).
    services.agent_presence_set(agent_id=late.user_id, status="available")
    offered = {o.ref: o for o in Offer.objects.filter(status=OfferStatus.OPEN)}
    assert set(offered) == {2, 3} and {o.agent_id for o in offered.values()} == {late.user_id}
    assert WorkItem.objects.get(ref=2).status == WorkStatus.OFFERED
    services.offer_accept(offer_id=offered[2].pk, agent_id=late.user_id)
    assert WorkItem.objects.get(ref=2).status == WorkStatus.ASSIGNED

    # A decision, not the tick, may be the first to notice; inside a caller's transaction the rebuild
    # commits on its own.
    client.flushdb()
    with transaction.atomic():
        services.work_enqueue(ref=4, queue_id=queue.pk, channel_kind="web")
    assert len(rebuilds) == 2
    # The offer of 3 open at the loss was withdrawn and made again; 4 waits for a free slot.
    assert Offer.objects.filter(ref=3, status=OfferStatus.CANCELLED).count() == 1
    assert list(Offer.objects.filter(status=OfferStatus.OPEN).values_list("ref", "agent_id")) == [(3, late.user_id)]
    assert [r["ref"] for r in selectors.queue_waiting(queue_id=queue.pk)] == [4]
    held = WorkItem.objects.filter(status__in=[WorkStatus.OFFERED, WorkStatus.ASSIGNED]).order_by("ref")
    assert list(held.values_list("ref", "agent_id")) == [(1, holder.user_id), (2, late.user_id), (3, late.user_id)]


@pytest.mark.django_db(transaction=True)
def test_a_rebuild_that_fails_half_way_does_not_leave_redis_looking_loaded(redis_backend, monkeypatch):
    sales = QueueFactory(name="Sales")
    now = timezone.now()
    for ref in (1, 2):
        services.work_enqueue(ref=ref, queue_id=sales.pk, channel_kind="web", priority=0, enqueued_at=now)
    redis_backend.flush()

    def broken_rematch(**kwargs):
        raise RuntimeError("the database went away after the restore")

    monkeypatch.setattr(redis_backend, "rematch", broken_rematch)
    with pytest.raises(RuntimeError):
        services.routing_rebuild()
    assert not redis_backend.built()
    monkeypatch.undo()
    assert services.routing_rebuild()["items"] == 2
    assert redis_backend.built()


@pytest.mark.django_db(transaction=True)
def test_a_promoted_replica_is_rebuilt_though_it_holds_the_primarys_state(tmp_path):
    """A replica promoted by Sentinel holds what the primary had replicated, built marker included, but may
    lack its last writes: routing refuses to decide on it until the state is rebuilt from MySQL there."""
    from tests.faults.support import RedisServer

    primary = RedisServer(tmp_path)
    primary.start()
    replica = RedisServer(tmp_path, replica_of=primary.port)
    replica.start()
    try:
        on_primary = RedisBackend({"url": primary.url}, channel_kinds=channel_kinds())
        on_primary.mark_built()
        queue = QueueFactory(name="Sales")
        on_primary.queue_set(**queue_settings(queue))
        item = {"queue_id": queue.pk, "kind": "web", "priority": 0, "skills": (), "preferred_agent_id": 0}
        on_primary.work_enqueue(ref=1, enqueued_ms=1, now_ms=1, **item)
        on_replica = RedisBackend({"url": replica.url}, channel_kinds=channel_kinds())
        deadline = time.monotonic() + 10
        while not redis.Redis(port=replica.port).exists(on_primary.built_key) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert on_replica.built()  # a replica in step holds the primary's state

        primary.kill()
        redis.Redis(port=replica.port).execute_command("REPLICAOF", "NO", "ONE")  # what Sentinel does
        assert redis.Redis(port=replica.port).exists(on_primary.built_key), "the marker was replicated"
        assert not on_replica.built()
        previous = set_backend(on_replica)
        try:
            with pytest.raises(RoutingError) as refused:
                on_replica.work_enqueue(ref=2, enqueued_ms=2, now_ms=2, **item)
            assert refused.value.code == "not_built"
            # The first decision (or beat's tick) rebuilds from MySQL on the new primary, then decides.
            services.work_enqueue(ref=3, queue_id=queue.pk, channel_kind="web")
            assert on_replica.built()
            assert [r["ref"] for r in selectors.queue_waiting(queue_id=queue.pk)] == [3]
        finally:
            set_backend(previous)
    finally:
        replica.kill()
        primary.kill()
