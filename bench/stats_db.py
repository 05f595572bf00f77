"""The Django side of the statistics benchmark (bench/stats.py): fill the server's database with a history
and today's traffic, then time the supervisor's live figures in this process.

    python -m bench.stats_db stats-fill CONVERSATIONS MESSAGES   # {"conversations", "messages", ...}
    python -m bench.stats_db stats-time REPS                      # {"snapshot": {...}, "tick": ..., ...}
    python -m bench.stats_db stats-explain                        # EXPLAIN of every query of them

The history is CONVERSATIONS closed conversations spread over the 100 days before today (answered and
abandoned ones, with MESSAGES messages between them, routing's offers and five ledger events each), all
inserted with INSERT ... SELECT over MariaDB's sequence tables (seq_1_to_N), a chunk at a time, progress
on stderr. Today's traffic is the same whatever the history: 400 conversations since local midnight (at
most the last 8 hours), of which 16 wait now, 30 are with an agent and 6 with the bot.

It prints nothing but JSON on stdout, like bench/database.py, and imports Django only when called.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from datetime import timedelta

QUEUES = 5
AGENTS = 20
HISTORY_DAYS = 100
TODAY = 400
WAITING, ACTIVE, BOT = 16, 30, 6
CHUNK = 20_000
MESSAGES_PER_TODAY = 10


def _progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _scene() -> dict:
    """Five queues with alert thresholds, the web inbox "stats", 20 agents (connected, mixed statuses) in
    one or two queues each, an admin and a supervisor whose team watches three queues."""
    from django.contrib.auth import get_user_model

    from crm.roles import AGENT, SUPERVISOR, roles_sync, user_set_role
    from imsubsystem.models import Inbox
    from routing.models import AgentProfile, Queue
    from supervisor.models import QueueAlertThresholds, Team

    roles_sync()
    queues = []
    for n in range(QUEUES):
        queue, _ = Queue.objects.get_or_create(name=f"Stats {n + 1}", defaults={"service_level_threshold_s": 60})
        QueueAlertThresholds.objects.get_or_create(
            queue=queue, defaults={"longest_wait_warning_s": 120, "service_level_warning_pct": 80}
        )
        queues.append(queue)
    inbox, _ = Inbox.objects.get_or_create(
        key="stats", defaults={"kind": "web", "name": "Stats", "default_queue": queues[0]}
    )
    User = get_user_model()
    agents = []
    for i in range(AGENTS):
        user, _ = User.objects.get_or_create(username=f"stats-agent-{i}")
        user_set_role(user=user, role=AGENT)
        profile, _ = AgentProfile.objects.get_or_create(user=user)
        profile.status = ("available", "available", "away", "offline")[i % 4]
        profile.default_capacity = 3
        profile.save()
        profile.queues.set([queues[i % QUEUES], queues[(i + 1) % QUEUES]] if i % 2 else [queues[i % QUEUES]])
        agents.append(user.pk)
    User.objects.get_or_create(username="stats-admin", defaults={"is_superuser": True})
    supervisor, _ = User.objects.get_or_create(username="stats-supervisor")
    user_set_role(user=supervisor, role=SUPERVISOR)
    team, _ = Team.objects.get_or_create(name="Stats team")
    team.supervisors.set([supervisor])
    team.queues.set(queues[:3])
    return {"inbox": inbox.pk, "queues": [q.pk for q in queues], "agents": agents}


def _naive_utc(moment):
    """A datetime as the database stores it (UTC, no zone), for raw SQL."""
    from datetime import UTC

    return moment.astimezone(UTC).replace(tzinfo=None)


def _insert(cursor, sql: str, params: list) -> int:
    """Run one INSERT ... SELECT; again (up to three times) when the server lost its sort's temporary file
    (a shared /tmp cleaned under it): the failed statement changed nothing."""
    from django.db import InternalError, OperationalError

    for attempt in range(3):
        try:
            cursor.execute(sql, params)
            return cursor.rowcount
        except (InternalError, OperationalError) as error:
            if attempt == 2 or "temptable" not in str(error):
                raise
            _progress(f"  retrying after {error}")
    return 0


def _conversations(cursor, *, scene: dict, count: int, per: int, start, end, live: bool) -> tuple[int, int]:
    """Insert `count` conversations created evenly over [start, end) (the newest first when `live`, whose
    first ones are open: waiting, with an agent, with the bot), their contacts, `per` messages each,
    offers and ledger events. Returns (first conversation id, last)."""
    from django.utils import timezone

    span_us = int((end - start).total_seconds() * 1_000_000)
    step = max(span_us // max(count, 1), 1)
    inbox, queues, agents = scene["inbox"], scene["queues"], scene["agents"]
    queue_expr = "ELT(1 + s.seq %% {}, {})".format(QUEUES, ", ".join(str(q) for q in queues))
    agent_expr = "ELT(1 + s.seq %% {}, {})".format(AGENTS, ", ".join(str(a) for a in agents))
    if live:
        # Newest first: seq 1.. are the most recent; the first ones are still open.
        created = f"TIMESTAMPADD(MICROSECOND, -s.seq * {step}, @anchor)"
        status = (
            f"CASE WHEN s.seq <= {WAITING} THEN IF(s.seq %% 2, 'queued', 'offered') "
            f"WHEN s.seq <= {WAITING + ACTIVE} THEN 'assigned' "
            f"WHEN s.seq <= {WAITING + ACTIVE + BOT} THEN 'bot' ELSE 'closed' END"
        )
        anchor = end
    else:
        created = f"TIMESTAMPADD(MICROSECOND, s.seq * {step}, @anchor)"
        status = "'closed'"
        anchor = start
    first_id = last_id = None
    now = timezone.now()
    cursor.execute("SET @now = %s", [_naive_utc(now)])
    cursor.execute("SET @anchor = %s", [_naive_utc(anchor)])
    for low in range(1, count + 1, CHUNK):
        high = min(low + CHUNK - 1, count)
        cursor.execute("SELECT COALESCE(MAX(id), 0) FROM crm_contact")
        contact_base = cursor.fetchone()[0]
        _insert(
            cursor,
            "INSERT INTO crm_contact (id, name, emails, phones, language, timezone, custom_attributes, created_at, "
            f"updated_at) SELECT %s + s.seq, CONCAT('Customer ', %s + s.seq), '[]', '[]', '', '', '{{}}', {created}, "
            f"{created} FROM seq_{low}_to_{high} s",
            [contact_base - low + 1, contact_base - low + 1],
        )
        cursor.execute("SELECT COALESCE(MAX(id), 0) FROM imsubsystem_conversation")
        base = cursor.fetchone()[0]
        # answered: 9 in 10 (s.seq % 10 <> 0); waited 5..124 s; handled 300 s.
        answered = "(s.seq %% 10 <> 0)"
        waited_us = "(5 + s.seq %% 120) * 1000000"
        st = f"({status})"
        is_open_or_answered = f"({st} IN ('assigned') OR ({st} = 'closed' AND {answered}))"
        queued = f"IF({st} = 'bot', NULL, TIMESTAMPADD(SECOND, 10, {created}))"
        assigned = f"IF({is_open_or_answered}, TIMESTAMPADD(MICROSECOND, {waited_us}, {queued}), NULL)"
        closed = (
            f"IF({st} = 'closed', IF({answered}, TIMESTAMPADD(SECOND, 300, {assigned}), "
            f"TIMESTAMPADD(SECOND, 60, {queued})), NULL)"
        )
        _insert(
            cursor,
            "INSERT INTO imsubsystem_conversation (id, status, priority, open_slot, created_at, first_queued_at, "
            "queued_at, waiting_since, waited, assigned_at, first_agent_reply_at, last_message_at, closed_at, "
            "last_seq, customer_last_read_seq, agent_last_read_seq, status_version, wrap_up, language, assignee_id, "
            "contact_id, queue_id, inbox_id) "
            f"SELECT %s + s.seq, {st}, 0, IF({st} = 'closed', NULL, CONCAT(%s, ':', %s + s.seq)), {created}, "
            f"{queued}, {queued}, {queued}, IF({assigned} IS NULL, NULL, {waited_us}), {assigned}, "
            f"TIMESTAMPADD(SECOND, 20, {assigned}), COALESCE({closed}, @now), {closed}, {per}, {per}, {per}, 4, "
            "'', '', "
            f"IF({assigned} IS NULL, NULL, {agent_expr}), %s + s.seq, {queue_expr}, %s "
            f"FROM seq_{low}_to_{high} s ORDER BY s.seq",
            [base - low + 1, inbox, contact_base - low + 1, contact_base - low + 1, inbox],
        )
        first = base + 1
        last = base + (high - low + 1)
        first_id = first_id or first
        last_id = last
        _related(cursor, first=first, last=last, per=per)
        _progress(f"  conversations {high}/{count}")
    return first_id, last_id


def _related(cursor, *, first: int, last: int, per: int) -> None:
    """Messages, offers and ledger events of the conversations first..last, from their own columns."""
    if per:
        _insert(
            cursor,
            "INSERT INTO imsubsystem_message (conversation_id, inbox_id, seq, sender_kind, sender_key, client_id, "
            "text, attachments, buttons, private, platform_message_id, delivery_status, delivery_error, "
            "created_at, sent_at, sender_user_id) "
            "SELECT c.id, c.inbox_id, s.seq, IF(s.seq %% 2 AND c.assignee_id IS NOT NULL, 'agent', 'customer'), "
            "IF(s.seq %% 2 AND c.assignee_id IS NOT NULL, CONCAT('agent:', c.assignee_id), 'customer'), NULL, "
            "'A message of the history', '[]', '[]', 0, NULL, 'stored', '', "
            "TIMESTAMPADD(SECOND, 15 * s.seq, c.created_at), NULL, "
            "IF(s.seq %% 2 AND c.assignee_id IS NOT NULL, c.assignee_id, NULL) "
            f"FROM imsubsystem_conversation c JOIN seq_1_to_{per} s WHERE c.id BETWEEN %s AND %s",
            [first, last],
        )
    # An accepted offer per answered conversation, and an expired one before it for every third.
    _insert(
        cursor,
        "INSERT INTO routing_offer (id, ref, queue_id, agent_id, policy, created_at, expires_at, status, closed_at, "
        "seq) SELECT CONCAT(IF(s.seq = 1, 'x', 'a'), c.id), c.id, c.queue_id, c.assignee_id, 'least_busy', "
        "c.first_queued_at, TIMESTAMPADD(SECOND, 60, c.first_queued_at), IF(s.seq = 1, 'expired', 'accepted'), "
        "IF(s.seq = 1, TIMESTAMPADD(SECOND, 60, c.first_queued_at), c.assigned_at), c.id * 10 + s.seq "
        "FROM imsubsystem_conversation c JOIN seq_1_to_2 s WHERE c.id BETWEEN %s AND %s "
        "AND c.assignee_id IS NOT NULL AND (s.seq = 2 OR c.id %% 3 = 0)",
        [first, last],
    )
    # The ledger, in time order: queued, offered, accepted, assigned, released.
    kinds = "ELT(s.seq, 'queued', 'offered', 'accepted', 'assigned', 'released')"
    _insert(
        cursor,
        "INSERT INTO routing_assignmentevent (seq, at, kind, ref, queue_id, agent_id, offer_id, policy, detail) "
        f"SELECT c.id * 10 + s.seq, IF(s.seq = 5, c.closed_at, IF(s.seq = 1, c.first_queued_at, c.assigned_at)), "
        f"{kinds}, c.id, c.queue_id, IF(s.seq = 1, NULL, c.assignee_id), '', 'least_busy', '' "
        "FROM imsubsystem_conversation c JOIN seq_1_to_5 s WHERE c.id BETWEEN %s AND %s "
        "AND c.first_queued_at IS NOT NULL AND (s.seq = 1 OR c.assigned_at IS NOT NULL) "
        "AND (s.seq < 5 OR c.closed_at IS NOT NULL) ORDER BY c.id, s.seq",
        [first, last],
    )


def stats_fill(*, conversations: int, messages: int) -> dict:
    """The scene, a history of `conversations` closed conversations with `messages` messages over the 100
    days before today, then today's traffic (the same at every size)."""
    from django.db import connection, transaction
    from django.utils import timezone

    from supervisor.stats import day_start

    scene = _scene()
    now = timezone.now()
    today = day_start(now)
    per = max(messages // max(conversations, 1), 0)
    started = time.monotonic()
    with connection.cursor() as cursor:
        _progress(f"history: {conversations} conversations, {per} messages each, over {HISTORY_DAYS} days")
        with transaction.atomic():
            _conversations(
                cursor,
                scene=scene,
                count=conversations,
                per=per,
                start=today - timedelta(days=HISTORY_DAYS),
                end=today - timedelta(minutes=30),
                live=False,
            )
        _progress(f"today: {TODAY} conversations")
        with transaction.atomic():
            _conversations(
                cursor,
                scene=scene,
                count=TODAY,
                per=MESSAGES_PER_TODAY,
                start=max(today, now - timedelta(hours=8)),
                end=now,
                live=True,
            )
        for table in ("imsubsystem_conversation", "imsubsystem_message", "routing_offer", "routing_assignmentevent"):
            cursor.execute(f"ANALYZE TABLE {table}")
            cursor.fetchall()
        counts = {}
        for table in ("imsubsystem_conversation", "imsubsystem_message", "routing_offer", "routing_assignmentevent"):
            cursor.execute(f"SELECT COUNT(*) FROM {table}")
            counts[table.split("_", 1)[1]] = cursor.fetchone()[0]
    return {
        "history_conversations": conversations,
        "history_messages": per * conversations,
        "rows": counts,
        "fill_s": round(time.monotonic() - started, 1),
    }


def _rows_read() -> int:
    """Rows the server read for this connection so far: the sum of its Handler_read_* counters."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW SESSION STATUS LIKE 'Handler_read%%'")
        return sum(int(v) for _, v in cursor.fetchall())


def _operations():
    """The measured operations: (name, callable). Each reads the database afresh (no cached figures)."""
    from django.contrib.auth import get_user_model
    from django.core.cache import cache

    from supervisor import stats
    from switchboard.metrics import SHARED_STATE

    User = get_user_model()
    admin = User.objects.get(username="stats-admin")
    supervisor = User.objects.get(username="stats-supervisor")
    keys = [stats.SNAPSHOT_KEY, stats.FAIRNESS_KEY, f"supervisor:scope:{admin.pk}", f"supervisor:scope:{supervisor.pk}"]

    def fresh(call):
        def run():
            cache.delete_many(keys)
            return call()

        return run

    return [
        # The dashboard's snapshot as /ws/v1/supervisor/live/ sends it to an admin, computed afresh.
        ("snapshot", fresh(lambda: stats.queue_stats_snapshot(user=admin))),
        # The queue.stats frame /ws/v1/supervisor/ sends a supervisor every IM_QUEUE_STATS_INTERVAL_S.
        ("tick", fresh(lambda: stats.queue_stats_frame(user=supervisor))),
        # The /metrics gauges (queue depth, oldest wait, open offers) a Prometheus scrape reads.
        ("metrics", lambda: list(SHARED_STATE.collect())),
    ]


def stats_time(*, reps: int) -> dict:
    """p50/p99 wall and CPU time, queries and rows read by the server, of each operation over `reps`."""
    from django.db import connection, reset_queries
    from django.test.utils import CaptureQueriesContext

    result = {}
    for name, call in _operations():
        call()  # warm: connections, imports, the buffer pool
        walls, cpus = [], []
        with CaptureQueriesContext(connection) as captured:
            call()
        queries = len(captured.captured_queries)
        rows0 = _rows_read()
        overhead = _rows_read() - rows0  # what one SHOW STATUS adds itself
        rows0 = _rows_read()
        call()
        rows = _rows_read() - rows0 - overhead
        for _ in range(reps):
            reset_queries()
            w0, c0 = time.perf_counter(), time.process_time()
            call()
            walls.append(time.perf_counter() - w0)
            cpus.append(time.process_time() - c0)
        walls.sort()
        result[name] = {
            "p50_ms": round(statistics.median(walls) * 1000, 2),
            "p99_ms": round(walls[max(int(len(walls) * 0.99) - 1, 0)] * 1000, 2),
            "client_cpu_ms": round(statistics.median(cpus) * 1000, 2),
            "queries": queries,
            "rows_read": max(rows, 0),
        }
    return result


def plans_explain(calls, *, name_key: str = "op") -> list[dict]:
    """EXPLAIN of every SELECT each named call runs (`calls`: (name, callable) pairs): table, access type,
    index and rows the plan expects. The statistics and the search benchmarks both use it."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    plans = []
    for name, call in calls:
        with CaptureQueriesContext(connection) as queries:
            call()
        for query in queries.captured_queries:
            sql = query["sql"]
            if not sql.lstrip().upper().startswith("SELECT"):
                continue
            with connection.cursor() as cursor:
                cursor.execute("EXPLAIN " + sql)
                columns = [c[0] for c in cursor.description]
                for row in cursor.fetchall():
                    plan = dict(zip(columns, row, strict=True))
                    plans.append(
                        {
                            name_key: name,
                            "sql": sql[:200],
                            "table": plan["table"],
                            "type": plan["type"],
                            "key": plan["key"],
                            "rows": plan["rows"],
                            "extra": plan["Extra"],
                        }
                    )
    return plans


def stats_explain() -> list[dict]:
    """EXPLAIN of every query the operations run."""
    return plans_explain(_operations())


def main(argv: list[str]) -> object:
    import django

    django.setup()
    command, *args = argv
    if command == "stats-fill":
        return stats_fill(conversations=int(args[0]), messages=int(args[1]))
    if command == "stats-time":
        return stats_time(reps=int(args[0]))
    if command == "stats-explain":
        return stats_explain()
    raise SystemExit(f"unknown command {command!r}: stats-fill, stats-time or stats-explain")


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1:]), default=str))
