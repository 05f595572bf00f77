"""The statistics over a scripted day: conversations with known timestamps, figures worked out by hand.

"Now" is 2030-03-13 12:00 UTC. Queue Sales answers within 60 s for the service level.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.db import connection

from crm.roles import AGENT
from imsubsystem.models import ConversationStatus as S
from routing.models import AgentProfile, AgentStatus, AssignmentEvent, Offer, OfferStatus
from supervisor import erlang, stats
from supervisor.models import QueueAlertThresholds
from tests.factories import AgentProfileFactory, ContactFactory, ConversationFactory, UserFactory

NOW = datetime(2030, 3, 13, 12, 0, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[2]


def at(hh: int, mm: int, ss: int = 0, *, day: int = 13) -> datetime:
    return datetime(2030, 3, day, hh, mm, ss, tzinfo=UTC)


def conversation(inbox, *, status, queued=None, assigned=None, replied=None, closed=None, agent=None, created=None):
    return ConversationFactory(
        inbox=inbox,
        contact=ContactFactory(),
        status=status,
        created_at=created or queued or NOW,
        first_queued_at=queued,
        queued_at=queued,
        assigned_at=assigned,
        first_agent_reply_at=replied,
        closed_at=closed,
        assignee=agent,
    )


@pytest.fixture
def day(teams):
    sales, support, inbox = teams["sales"], teams["support"], teams["sales_inbox"]
    ag1 = teams["ag_a"]
    ag2 = UserFactory(username="ag-2", role=AGENT)
    ag3 = UserFactory(username="ag-3", role=AGENT)
    AgentProfileFactory(user=ag2, status=AgentStatus.AWAY, queues=[sales])
    AgentProfileFactory(user=ag3, status=AgentStatus.AVAILABLE, queues=[support], default_capacity=1)
    # A: waited 30 s, handled 600 s by ag1.
    conversation(
        inbox,
        status=S.CLOSED,
        queued=at(8, 0),
        assigned=at(8, 0, 30),
        replied=at(8, 1),
        closed=at(8, 10, 30),
        agent=ag1,
    )
    # B: waited 120 s (late for the 60 s threshold), handled 300 s by ag2.
    conversation(
        inbox, status=S.CLOSED, queued=at(9, 0), assigned=at(9, 2), replied=at(9, 2, 30), closed=at(9, 7), agent=ag2
    )
    # C: left after 3 minutes, never answered: abandoned.
    conversation(inbox, status=S.CLOSED, queued=at(10, 0), closed=at(10, 3))
    # D: waited 45 s, still with ag1 (active) - in the last 30 minutes.
    conversation(inbox, status=S.ASSIGNED, queued=at(11, 40), assigned=at(11, 40, 45), replied=at(11, 41), agent=ag1)
    # E: left after a minute - abandoned in the last 30 minutes.
    conversation(inbox, status=S.CLOSED, queued=at(11, 50), closed=at(11, 51))
    # F and G wait now: since 11:55 (queued) and 11:58 (offered).
    conversation(inbox, status=S.QUEUED, queued=at(11, 55))
    conversation(inbox, status=S.OFFERED, queued=at(11, 58))
    # H: arrived yesterday, closed today by ag2 after 4200 s: handled today, not an arrival of today.
    conversation(
        inbox,
        status=S.CLOSED,
        queued=at(23, 0, day=12),
        assigned=at(23, 0, 10, day=12),
        closed=at(0, 10, 10),
        agent=ag2,
    )
    # The bot is still talking: never queued, counts nowhere.
    conversation(inbox, status=S.BOT, created=at(11, 0))
    # Support: one conversation held by ag3 (capacity 1, so ag3 is busy).
    conversation(teams["support_inbox"], status=S.ASSIGNED, queued=at(11, 45), assigned=at(11, 45, 5), agent=ag3)
    # ag1 let two offers expire today (one yesterday, one rejected today do not count).
    for n, (created, status) in enumerate(
        [
            (at(9, 0), OfferStatus.EXPIRED),
            (at(10, 0), OfferStatus.EXPIRED),
            (at(9, 0, day=12), OfferStatus.EXPIRED),
            (at(11, 0), OfferStatus.REJECTED),
        ]
    ):
        Offer.objects.create(
            id=f"o{n}",
            ref=1000 + n,
            queue_id=sales.pk,
            agent_id=ag1.pk,
            created_at=created,
            expires_at=created + timedelta(seconds=30),
            status=status,
        )
    QueueAlertThresholds.objects.create(
        queue=sales,
        longest_wait_warning_s=120,
        longest_wait_critical_s=240,
        service_level_warning_pct=80,
        service_level_critical_pct=50,
    )
    return {"ag1": ag1, "ag2": ag2, "ag3": ag3, **teams}


def _queue(snapshot, queue):
    return next(q for q in snapshot["queues"] if q["queue_id"] == queue.pk)


def _agent(snapshot, user):
    return next(a for a in snapshot["agents"] if a["agent_id"] == user.pk)


def test_queue_figures_of_the_day(day):
    sales = _queue(stats.snapshot_compute(now=NOW), day["sales"])
    assert sales["waiting"] == 2  # F, G
    assert sales["longest_wait_s"] == 300  # F since 11:55
    assert sales["active"] == 1  # D
    # Today: arrivals A..G; answered A, B, D; in time A (30 s), D (45 s); abandoned C, E.
    assert sales["today"] == {
        "arrived": 7,
        "answered": 3,
        "answered_in_time": 2,
        "abandoned": 2,
        "average_wait_s": 65.0,  # (30 + 120 + 45) / 3
        "service_level": 0.4,  # 2 / (3 + 2)
    }
    # Last 30 minutes (from 11:30): D, E, F, G; answered D in time; abandoned E.
    assert sales["recent"] == {
        "arrived": 4,
        "answered": 1,
        "answered_in_time": 1,
        "abandoned": 1,
        "average_wait_s": 45.0,
        "service_level": 0.5,  # 1 / (1 + 1)
    }


def test_agents_by_state_and_occupancy(day):
    snapshot = stats.snapshot_compute(now=NOW)
    sales, support = _queue(snapshot, day["sales"]), _queue(snapshot, day["support"])
    assert sales["agents"] == {"available": 1, "busy": 0, "away": 1, "offline": 0, "disconnected": 0}
    assert sales["capacity"] == 3  # only ag1 is available
    assert sales["occupancy"] == pytest.approx(1 / 3, abs=1e-4)  # D over ag1's 3 slots
    # Support: ag-b (free, capacity 3) and ag3 (1 of 1 slot taken).
    assert support["agents"] == {"available": 1, "busy": 1, "away": 0, "offline": 0, "disconnected": 0}
    assert support["occupancy"] == 0.25


def test_agent_without_a_console_counts_as_disconnected_not_available(day):
    """Presence follows the console: an agent who chose available but whose last console went away
    longer than the grace ago is shown disconnected, and their slots are not the queue's capacity."""
    AgentProfile.objects.filter(user=day["ag1"]).update(connected=False)
    snapshot = stats.snapshot_compute(now=NOW)
    sales = _queue(snapshot, day["sales"])
    assert sales["agents"] == {"available": 0, "busy": 0, "away": 1, "offline": 0, "disconnected": 1}
    assert sales["capacity"] == 0 and sales["occupancy"] is None
    ag1 = _agent(snapshot, day["ag1"])
    assert (ag1["status"], ag1["connected"], ag1["state"]) == ("available", False, "disconnected")


def test_per_agent_figures(day):
    snapshot = stats.snapshot_compute(now=NOW)
    ag1, ag2, ag3 = (_agent(snapshot, day[k]) for k in ("ag1", "ag2", "ag3"))
    assert (ag1["status"], ag1["state"], ag1["load"], ag1["capacity"]) == ("available", "available", 1, 3)
    assert ag1["offers_missed_today"] == 2
    assert (ag1["handled_today"], ag1["average_handle_s"]) == (1, 600.0)
    assert (ag2["status"], ag2["state"], ag2["load"]) == ("away", "away", 0)
    assert (ag2["handled_today"], ag2["average_handle_s"]) == (2, 2250.0)  # (300 + 4200) / 2
    assert (ag3["state"], ag3["occupancy"]) == ("busy", 1.0)


def test_alerts_past_the_critical_values(day):
    sales = _queue(stats.snapshot_compute(now=NOW), day["sales"])
    assert sales["alerts"] == [
        {"metric": "longest_wait", "level": "critical", "value": 300, "threshold": 240},
        {"metric": "service_level", "level": "critical", "value": 50.0, "threshold": 50},
    ]
    support = _queue(stats.snapshot_compute(now=NOW), day["support"])
    assert support["alerts"] == []


def test_warning_between_warning_and_critical(day):
    # At 11:58, F has waited 180 s: past the 120 s warning, short of the 240 s critical.
    sales = _queue(stats.snapshot_compute(now=at(11, 58, 0)), day["sales"])
    assert sales["alerts"][0] == {"metric": "longest_wait", "level": "warning", "value": 180, "threshold": 120}


def test_service_level_uses_each_queues_own_threshold(day):
    day["sales"].service_level_threshold_s = 150
    day["sales"].save()
    sales = _queue(stats.snapshot_compute(now=NOW), day["sales"])
    assert sales["today"]["answered_in_time"] == 3  # B's 120 s now counts
    assert sales["today"]["service_level"] == 0.6


def test_spread():
    figures = stats.spread([0.2, 0.4, 0.6])
    assert figures["range"] == 0.4 and figures["mean"] == 0.4
    # population standard deviation sqrt((0.04 + 0 + 0.04) / 3) = 0.16330; / 0.4
    assert figures["cv"] == pytest.approx(0.4082, abs=1e-4)
    assert stats.spread([]) == {"max": None, "min": None, "range": None, "mean": None, "cv": None}


def test_assignments_per_agent_per_hour_from_the_ledger(day):
    ag1, ag2 = day["ag1"].pk, day["ag2"].pk
    events = [(at(8, 5), ag1), (at(8, 40), ag1), (at(8, 50), ag2), (at(9, 10), ag1), (at(7, 59, day=12), ag2)]
    for seq, (moment, agent) in enumerate(events, start=1):
        AssignmentEvent.objects.create(seq=seq, at=moment, kind="assigned", ref=seq, queue_id=1, agent_id=agent)
        AssignmentEvent.objects.create(seq=100 + seq, at=moment, kind="offered", ref=seq, queue_id=1, agent_id=agent)
    rows = stats.assignments_by_agent_hour(since=at(0, 0), until=NOW)
    counted = {(r["agent_id"], r["hour"].hour): r["n"] for r in rows}
    assert counted == {(ag1, 8): 2, (ag2, 8): 1, (ag1, 9): 1}
    fairness = stats.fairness_compute(now=NOW)
    assert fairness["by_agent"][str(ag1)]["total"] == 3
    assert fairness["by_agent"][str(ag1)]["per_hour"] == 0.25  # 3 over the 12 hours since midnight


# Another process: reads the snapshot (counting its queries), then drops it and computes its own from what
# its database connection sees, and prints both.
OTHER_PROCESS = """
import json
import django

django.setup()
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from supervisor import stats

settings.SUPERVISOR_SNAPSHOT_TTL_S = 600
queries = []

def counted(execute, sql, params, many, context):
    queries.append(sql)
    return execute(sql, params, many, context)

with connection.execute_wrapper(counted):
    read = stats.snapshot_cached()
read_queries = len(queries)
cache.delete(stats.SNAPSHOT_KEY)
with connection.execute_wrapper(counted):
    computed = stats.snapshot_cached()
print(json.dumps({"read": read, "read_queries": read_queries, "computed": computed,
                  "computed_queries": len(queries) - read_queries}))
"""


def run_other_process(settings) -> dict:
    db = connection.settings_dict
    credentials = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    env = {
        **os.environ,
        # The test database, where this test's own rows are not committed: the other process cannot see them.
        "DATABASE_URL": f"mysql://{credentials}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 3306}/{db['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
        "PYTHONPATH": str(ROOT),
    }
    done = subprocess.run(
        [sys.executable, "-c", OTHER_PROCESS], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_snapshot_is_cached_and_shared_between_processes(day, settings, django_assert_max_num_queries):
    settings.SUPERVISOR_SNAPSHOT_TTL_S = 600  # fresh for the whole test: no clock in the assertions
    mine = stats.snapshot_cached()
    assert [q["name"] for q in mine["queues"]] == ["Sales", "Support"]
    with django_assert_max_num_queries(0):
        assert stats.snapshot_cached() == mine

    other = run_other_process(settings)
    # The other process got this process's snapshot through the shared cache, without one query: its
    # database cannot see Sales and Support (they are not committed).
    assert other["read_queries"] == 0
    assert other["read"] == json.loads(json.dumps(mine))
    # What it computed itself, from its own view of the database, knows neither queue...
    assert other["computed_queries"] > 0
    assert "Sales" not in [q["name"] for q in other["computed"]["queues"]]
    # ...and is what this process now reads, again without a query.
    with django_assert_max_num_queries(0):
        assert json.loads(json.dumps(stats.snapshot_cached())) == other["computed"]


def test_report_by_day_per_queue(day):
    from bots.models import SurveyResponse

    a, b = (c for c in day["sales_inbox"].conversations.filter(first_queued_at__in=[at(8, 0), at(9, 0)]).order_by("pk"))
    for conversation, rating in ((a, 5), (b, 3)):
        SurveyResponse.objects.create(
            conversation_id=conversation.pk,
            inbox_id=conversation.inbox_id,
            contact_id=conversation.contact_id,
            rating=rating,
            sent_at=conversation.closed_at,
            answered_at=conversation.closed_at,
        )
    rows = stats.report_rows(
        start=at(0, 0, day=12), end=at(0, 0, day=14), period="day", dimension="queue", queue_ids=[day["sales"].pk]
    )
    assert [(r["bucket"].day, r["volume"]) for r in rows] == [(12, 1), (13, 7)]
    yesterday, today = rows
    assert (yesterday["service_level"], yesterday["handle_s"], yesterday["resolution"]) == (1.0, 4200.0, 1.0)
    assert today["answered"] == 3 and today["abandoned"] == 2
    assert today["abandonment"] == pytest.approx(2 / 7, abs=1e-4)
    assert today["service_level"] == 0.4
    assert today["average_wait_s"] == 65.0
    assert today["first_response_s"] == 90.0  # A 60 s, B 150 s, D 60 s
    assert today["handle_s"] == 450.0  # A 600 s, B 300 s (D is still open)
    assert (today["resolved"], today["resolution"]) == (2, pytest.approx(2 / 7, abs=1e-4))
    assert (today["satisfaction"], today["rated"]) == (4.0, 2)


def test_report_by_hour_per_agent(day):
    rows = stats.report_rows(
        start=at(0, 0),
        end=at(0, 0, day=14),
        period="hour",
        dimension="agent",
        queue_ids=[day["sales"].pk],
        agent_ids=[day["ag1"].pk, day["ag2"].pk],
    )
    assert [(r["bucket"].hour, r["agent_id"], r["volume"]) for r in rows] == [
        (8, day["ag1"].pk, 1),
        (9, day["ag2"].pk, 1),
        (11, day["ag1"].pk, 1),
    ]
    assert rows[1]["service_level"] == 0.0  # B waited 120 s
    assert rows[0]["handle_s"] == 600.0


def test_report_leaves_out_queues_outside_the_given_ids(day):
    rows = stats.report_rows(
        start=at(0, 0), end=at(0, 0, day=14), period="day", dimension="queue", queue_ids=[day["support"].pk]
    )
    assert [(r["queue_id"], r["volume"]) for r in rows] == [(day["support"].pk, 1)]


def test_staffing_from_past_weeks(day):
    sales = day["sales"]
    inbox = day["sales_inbox"]
    # The last two Wednesdays before NOW (Wed 13 March): 6 and 27 February... 6 March and 27 February.
    # 09:00-09:30 gets 100 and 100 arrivals' worth: scale down with a handle time so the traffic is known.
    for wednesday in (6, 27):
        month = 3 if wednesday == 6 else 2
        for n in range(4):
            queued = datetime(2030, month, wednesday, 9, 5 + n, tzinfo=UTC)
            conversation(
                inbox,
                status=S.CLOSED,
                queued=queued,
                assigned=queued + timedelta(seconds=5),
                closed=queued + timedelta(seconds=5 + 900),
                agent=day["ag1"],
            )
    QueueAlertThresholds.objects.filter(queue=sales).update(service_level_target_pct=80, concurrency=2)
    plan = {p["queue_id"]: p for p in stats.staffing_plan(queue_ids=[sales.pk], weeks=2, now=NOW)}[sales.pk]
    # The handle time is the whole history's: the eight above and H (4200 s, yesterday):
    # (8 * 900 + 4200) / 9 = 11400 / 9 = 1266.67 s, shown as 1266.7.
    assert plan["aht_s"] == 1266.7
    slot = plan["slots"][18]  # 09:00
    assert slot["start"] == "09:00"
    assert slot["arrivals"] == 4.0  # 8 arrivals over 2 weeks
    # Traffic A = 4 * 1266.7 / 1800 = 2.8149 erlangs.
    assert slot["traffic"] == 2.815
    # Erlang C by the textbook formula, C(N) = (A^N/N! * N/(N-A)) / (sum_{k<N} A^k/k! + A^N/N! * N/(N-A)),
    # service level SL(N) = 1 - C(N) * exp(-(N - A) * 60 / 1266.7); A^2 = 7.9236, A^3 = 22.3041:
    #   N = 3: top = 22.3041/6 * 3/0.1851 = 60.245, sum = 1 + 2.8149 + 3.9618 = 7.7767,
    #          C = 60.245/68.022 = 0.8857, SL = 1 - 0.8857 * exp(-0.00877) = 0.122
    #   N = 4: top = 2.6160 * 4/1.1851 = 8.829, sum = 7.7767 + 3.7173 = 11.494,
    #          C = 8.829/20.323 = 0.4344, SL = 1 - 0.4344 * exp(-0.05613) = 0.589
    #   N = 5: top = 1.4727 * 5/2.1851 = 3.370, sum = 11.494 + 2.6160 = 14.110,
    #          C = 3.370/17.480 = 0.1928, SL = 1 - 0.1928 * exp(-0.10350) = 0.826 >= 0.80
    # so 5 conversations must be in hand at once, and at 2 per agent that is ceil(5 / 2) = 3 agents.
    for agents, level in ((3, 0.122), (4, 0.589), (5, 0.826)):
        assert erlang.service_level(traffic=2.8149, agents=agents, aht_s=1266.7, target_s=60) == pytest.approx(
            level, abs=5e-4
        )
    assert slot["servers"] == 5
    assert slot["agents_needed"] == 3
    assert plan["slots"][17]["arrivals"] == 0 and plan["slots"][17]["agents_needed"] == 0
    # Today's 08:00-08:30 slot: ag1 took A; 09:00: ag2 took B.
    assert plan["slots"][16]["agents_staffed"] == 1
    assert plan["slots"][18]["agents_staffed"] == 1
    assert plan["slots"][30]["agents_staffed"] is None  # 15:00 has not come yet
