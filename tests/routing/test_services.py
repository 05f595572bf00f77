"""The services the switch calls, end to end through MySQL, the ledger and the hook events."""

from __future__ import annotations

from contextlib import ExitStack

import pytest

from routing import hooks, selectors, services
from routing.exceptions import RoutingError
from routing.models import AgentStatus, AssignmentEvent, Offer, OfferStatus, WorkItem, WorkStatus
from tests.factories import AgentProfileFactory, QueueFactory


@pytest.fixture
def received():
    """Every routing hook event emitted during the test, as (hook name, the event's fields)."""
    got: list[tuple[str, dict]] = []
    with ExitStack() as stack:
        for name in (
            "offer_created",
            "offer_closed",
            "work_assigned",
            "work_queued",
            "queue_changed",
            "agent_status_changed",
        ):

            def receiver(event, _name=name):
                got.append((_name, event.as_dict()))

            stack.enter_context(getattr(hooks, name).subscribed(receiver))
        yield got


def names(got):
    return [name for name, _ in got]


@pytest.mark.django_db(transaction=True)
def test_enqueue_offer_accept_complete(received):
    queue = QueueFactory(name="Sales")
    profile = AgentProfileFactory(queues=[queue])
    services.agent_presence_set(agent_id=profile.user_id, status=AgentStatus.AVAILABLE)
    services.work_enqueue(ref=101, queue_id=queue.pk, channel_kind="web")

    offer = Offer.objects.get(ref=101)
    assert offer.agent_id == profile.user_id and offer.status == OfferStatus.OPEN
    created = [kw for name, kw in received if name == "offer_created"]
    assert created == [
        {
            "offer_id": offer.pk,
            "ref": 101,
            "agent_id": profile.user_id,
            "queue_id": queue.pk,
            "expires_at": created[0]["expires_at"],
        }
    ]
    assert WorkItem.objects.get(ref=101).status == WorkStatus.OFFERED
    assert selectors.agent_load(agent_id=profile.user_id)["load"] == 1

    services.offer_accept(offer_id=offer.pk, agent_id=profile.user_id)
    item = WorkItem.objects.get(ref=101)
    assert (item.status, item.agent_id, item.policy) == (WorkStatus.ASSIGNED, profile.user_id, "least_busy")
    assert (
        "work_assigned",
        {"ref": 101, "agent_id": profile.user_id, "queue_id": queue.pk, "policy": "least_busy"},
    ) in received

    services.work_complete(ref=101)
    assert WorkItem.objects.get(ref=101).status == WorkStatus.COMPLETED
    assert selectors.agent_load(agent_id=profile.user_id)["load"] == 0
    kinds = list(AssignmentEvent.objects.values_list("kind", flat=True))
    assert kinds == ["agent_status", "offered", "accepted", "assigned", "released"]


@pytest.mark.django_db(transaction=True)
def test_waiting_position_and_enqueue_is_idempotent(received):
    queue = QueueFactory()
    for ref in (1, 2, 3):
        services.work_enqueue(ref=ref, queue_id=queue.pk, channel_kind="telegram")
    services.work_enqueue(ref=2, queue_id=queue.pk, channel_kind="telegram")
    assert [row["ref"] for row in selectors.queue_waiting(queue_id=queue.pk)] == [1, 2, 3]
    position, eta_s = services.queue_position(ref=3)
    assert position == 3 and eta_s > 0
    positions = services.queue_positions(queue_id=queue.pk)
    assert positions == {ref: services.queue_position(ref=ref) for ref in (1, 2, 3)}
    assert services.queue_positions(queue_id=QueueFactory().pk) == {}
    assert WorkItem.objects.count() == 3
    assert names(received).count("work_queued") == 3


@pytest.mark.django_db(transaction=True)
def test_reject_reoffers_to_next_agent_at_once(received):
    queue = QueueFactory()
    first = AgentProfileFactory(queues=[queue])
    second = AgentProfileFactory(queues=[queue])
    services.agent_presence_set(agent_id=first.user_id, status="available")
    services.work_enqueue(ref=7, queue_id=queue.pk, channel_kind="web")
    offer = Offer.objects.get(ref=7)
    assert offer.agent_id == first.user_id
    with pytest.raises(RoutingError) as error:
        services.offer_accept(offer_id=offer.pk, agent_id=second.user_id)
    assert error.value.code == "not_yours"
    services.agent_presence_set(agent_id=second.user_id, status="available")
    services.offer_reject(offer_id=offer.pk, agent_id=first.user_id)
    assert Offer.objects.get(pk=offer.pk).status == OfferStatus.REJECTED
    again = Offer.objects.get(ref=7, status=OfferStatus.OPEN)
    assert again.agent_id == second.user_id
    with pytest.raises(RoutingError) as error:
        services.offer_accept(offer_id=offer.pk, agent_id=first.user_id)
    assert error.value.code == "offer_gone"


@pytest.mark.django_db(transaction=True)
def test_bad_input_changes_nothing():
    queue = QueueFactory()
    with pytest.raises(RoutingError) as error:
        services.work_enqueue(ref=1, queue_id=queue.pk + 99, channel_kind="web")
    assert error.value.code == "unknown_queue"
    with pytest.raises(RoutingError):
        services.work_enqueue(ref=1, queue_id=queue.pk, channel_kind="carrier-pigeon")
    with pytest.raises(RoutingError):
        services.work_enqueue(ref=1, queue_id=queue.pk, channel_kind="web", priority=1000)
    with pytest.raises(RoutingError):
        services.agent_presence_set(agent_id=424242, status="available")
    assert not WorkItem.objects.exists()
