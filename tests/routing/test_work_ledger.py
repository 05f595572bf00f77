"""routing.selectors.work_ledger: one conversation's routing decisions, as its transcript shows them."""

from __future__ import annotations

from django.utils import timezone

from routing.models import AssignmentEvent
from routing.selectors import work_ledger


def test_offers_are_left_out_and_a_repeated_queued_is_dropped(db):
    now = timezone.now()
    rows = [
        ("queued", 1, None),
        ("offered", 1, 7),
        ("rejected", 1, 7),
        ("queued", 1, None),  # back in the same queue after the declined offer: not news
        ("overflowed", 2, None),
        ("queued", 2, None),
        ("assigned", 2, 8),
        ("released", 2, 8),
        ("queued", 2, None),  # back in the queue after the agent let it go: shown
    ]
    for seq, (kind, queue_id, agent_id) in enumerate(rows, start=1):
        AssignmentEvent.objects.create(seq=seq, at=now, kind=kind, ref=41, queue_id=queue_id, agent_id=agent_id)
    AssignmentEvent.objects.create(seq=99, at=now, kind="assigned", ref=42, queue_id=1, agent_id=9)

    assert [(e["kind"], e["queue_id"], e["agent_id"]) for e in work_ledger(ref=41)] == [
        ("queued", 1, None),
        ("overflowed", 2, None),
        ("queued", 2, None),
        ("assigned", 2, 8),
        ("queued", 2, None),
    ]
