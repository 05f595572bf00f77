"""The live figures cost the same whatever the history: the scripted day of test_stats.py, then months of
closed conversations, offers and ledger events before it. The figures must not move, and neither the
queries nor the rows MySQL reads for them (its Handler_read_* counters: no timer) may grow with the history.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.db import connection

from imsubsystem.models import Conversation
from imsubsystem.models import ConversationStatus as S
from routing.models import AssignmentEvent, Offer, OfferStatus
from supervisor import stats
from switchboard.metrics import SHARED_STATE
from tests.supervisor.test_stats import NOW, at, day  # noqa: F401 - the scripted day, reused

HISTORY = 1500


@pytest.fixture
def scene(day):  # noqa: F811 - the fixture imported above
    """test_stats.py's scripted day."""
    return day


def _rows_read() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SHOW SESSION STATUS LIKE 'Handler_read%%'")
        return sum(int(value) for _, value in cursor.fetchall())


def _measure(call):
    """(queries, rows the server read) of one call: the SHOW STATUS's own reads are taken off."""
    queries: list[str] = []

    def counted(execute, sql, params, many, context):
        queries.append(sql)
        return execute(sql, params, many, context)

    first = _rows_read()
    overhead = _rows_read() - first
    start = _rows_read()
    with connection.execute_wrapper(counted):
        call()
    return len(queries), _rows_read() - start - overhead


def _figures():
    return {
        "snapshot": {k: v for k, v in stats.snapshot_compute(now=NOW).items() if k != "at"},
        "fairness": stats.fairness_compute(now=NOW),
        "metrics": [(m.name, sorted((s.labels.get("queue", ""), s.value) for s in m.samples)) for m in _gauges()],
    }


def _gauges():
    # The database's gauges of /metrics (Celery's backlog reads Redis, not MySQL).
    return [m for m in SHARED_STATE.collect() if m.name != "switchboard_celery_queue_length"]


def _operations():
    return {
        "snapshot": lambda: stats.snapshot_compute(now=NOW),
        "fairness": lambda: stats.fairness_compute(now=NOW),
        "metrics": _gauges,
    }


def _history(scene, count: int) -> None:
    """`count` closed conversations of the 100 days before the scripted day, answered by ag1 or ag2 or
    abandoned, each with an expired and an accepted offer and its ledger events, in time order."""
    sales, inbox = scene["sales"], scene["sales_inbox"]
    agents = [scene["ag1"], scene["ag2"]]
    contact = Conversation.objects.filter(inbox=inbox).first().contact
    first_day = at(0, 0) - timedelta(days=100)
    step = timedelta(days=98) / count
    conversations = []
    for n in range(count):
        queued = first_day + n * step
        answered = n % 10 != 0
        waited = timedelta(seconds=5 + n % 120)
        conversations.append(
            Conversation(
                inbox=inbox,
                contact=contact,
                queue=sales,
                status=S.CLOSED,
                created_at=queued,
                first_queued_at=queued,
                queued_at=queued,
                waiting_since=queued,
                waited=waited if answered else None,
                assigned_at=queued + waited if answered else None,
                closed_at=queued + waited + timedelta(seconds=300),
                assignee=agents[n % 2] if answered else None,
            )
        )
    Conversation.objects.bulk_create(conversations, batch_size=500)
    offers, events = [], []
    for n, conv in enumerate(conversations):
        if conv.assignee is None:
            continue
        for kind, status in (("x", OfferStatus.EXPIRED), ("a", OfferStatus.ACCEPTED)):
            offers.append(
                Offer(
                    id=f"h{kind}{n}",
                    ref=n,
                    queue_id=sales.pk,
                    agent_id=conv.assignee.pk,
                    created_at=conv.first_queued_at,
                    expires_at=conv.first_queued_at + timedelta(seconds=60),
                    status=status,
                )
            )
        for seq, kind in enumerate(("queued", "offered", "accepted", "assigned", "released")):
            events.append(
                AssignmentEvent(
                    seq=n * 10 + seq,
                    at=conv.assigned_at,
                    kind=kind,
                    ref=n,
                    queue_id=sales.pk,
                    agent_id=conv.assignee.pk,
                )
            )
    Offer.objects.bulk_create(offers, batch_size=500)
    AssignmentEvent.objects.bulk_create(events, batch_size=500)


def _today_ledger(scene) -> None:
    # Today's assignments (test_stats.py's ledger test), appended after the history as the ledger is.
    for seq, (moment, agent) in enumerate([(at(8, 5), scene["ag1"]), (at(9, 10), scene["ag2"])], start=1):
        AssignmentEvent.objects.create(seq=10**7 + seq, at=moment, kind="assigned", ref=seq, agent_id=agent.pk)


@pytest.mark.django_db
def test_live_figures_do_not_change_with_history(scene):
    """Where the queries changed (the arrivals' and today's windows, missed offers, the ledger, open offers),
    the figures are those of the scripted day, with or without months of history before it."""
    _today_ledger(scene)
    alone = _figures()
    assert alone["fairness"]["by_agent"][str(scene["ag1"].pk)]["total"] == 1
    # The ledger is appended in time order: the history's events come before today's.
    AssignmentEvent.objects.all().delete()
    _history(scene, HISTORY)
    _today_ledger(scene)
    assert json.loads(json.dumps(_figures(), default=str)) == json.loads(json.dumps(alone, default=str))


@pytest.mark.django_db
def test_live_figures_read_the_same_rows_whatever_the_history(scene):
    """Queries and rows read by MySQL for the snapshot, the fairness figures and the /metrics gauges stay
    what they are without history once 1,500 past conversations (and their offers and 6,750 ledger events)
    are added. Before the window indexes, the missed offers and the open offers read every offer, and
    the ledger's hourly count bisected the whole ledger (more queries for a longer ledger)."""
    _today_ledger(scene)
    for call in _operations().values():
        call()  # warm: the first run of a query reads the dictionary too
    before = {name: _measure(call) for name, call in _operations().items()}
    _history(scene, HISTORY)
    after = {name: _measure(call) for name, call in _operations().items()}
    for name in before:
        queries_before, rows_before = before[name]
        queries_after, rows_after = after[name]
        assert queries_after == queries_before, name
        # A few index pages more at most (a deeper B-tree), never a row of the history per row.
        assert rows_after <= rows_before + 20, (name, rows_before, rows_after)
