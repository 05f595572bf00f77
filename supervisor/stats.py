"""The one statistics service of the supervisor app: the live snapshot, the reports and the staffing
inputs all come from the aggregate expressions defined here, so a figure means the same everywhere.

Every figure is computed by the database (grouped COUNT / AVG with conditional filters) over a bounded
time window; no rows are loaded into Python to be counted. MySQL and routing's records are the truth:
nothing is kept in process memory, so any number of daphne and Celery processes agree. The live snapshot
is computed at most about once a second for the whole cluster and shared through the Django cache.

Definitions (docs/supervisor.md has the full text):
- arrival: a conversation whose first_queued_at falls in the window (it entered a queue);
- answered: an arrival with assigned_at set (an agent took it); wait = the customer's wait, from the
  hand-over until an agent took it, across offers, overflow and transfers (`waited`, kept by the switch;
  live: imsubsystem.selectors.customer_wait_s / queue_live);
- abandoned: an arrival closed without ever being assigned (the customer left before an agent answered);
- service level: answered within the queue's service_level_threshold_s / (answered + abandoned);
- first response: first_agent_reply_at - first_queued_at; handle time: closed_at - assigned_at.
"""

from __future__ import annotations

import math
import statistics
import time
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.cache import cache
from django.db.models import (
    Avg,
    BigIntegerField,
    Case,
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    IntegerField,
    Min,
    OuterRef,
    Q,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import ExtractHour, ExtractMinute, ExtractWeekDay, TruncDay, TruncHour
from django.utils import timezone

from imsubsystem import selectors as switch_selectors
from imsubsystem.models import Conversation, ConversationStatus
from routing.models import DISCONNECTED, AgentProfile, AgentStatus, AssignmentEvent, Offer, OfferStatus, Queue
from routing.selectors import agent_presence_shown
from supervisor import erlang
from supervisor.models import QueueAlertThresholds
from supervisor.selectors import agent_ids_visible, queue_ids_visible, user_is_admin

S = ConversationStatus
RECENT_WINDOW = timedelta(minutes=30)
SNAPSHOT_KEY = "supervisor:snapshot:v1"
FAIRNESS_KEY = "supervisor:fairness:v1"
WAITING = (S.QUEUED, S.OFFERED)


def _setting(name: str, default: Any) -> Any:
    return getattr(settings, name, default)


def arrival_lookback() -> timedelta:
    """How long before a window a conversation may have been created and still arrive in it.

    first_queued_at has no index; created_at has one, and first_queued_at >= created_at always, so
    `created_at >= window start - lookback` bounds every window query to an index range. A conversation
    that spent longer than this with the bot before entering a queue is left out of the figures.
    """
    return timedelta(hours=_setting("SUPERVISOR_ARRIVAL_LOOKBACK_H", 24))


# --- the expressions every figure is built from ---------------------------------------------------------
# The customer's total wait when an agent took the conversation, kept by the switch (docs/supervisor.md).
WAIT = F("waited")
FIRST_RESPONSE = ExpressionWrapper(F("first_agent_reply_at") - F("first_queued_at"), output_field=DurationField())
HANDLE = ExpressionWrapper(F("closed_at") - F("assigned_at"), output_field=DurationField())
THRESHOLD = ExpressionWrapper(F("queue__service_level_threshold_s") * Value(1_000_000), output_field=DurationField())

ANSWERED = Q(assigned_at__isnull=False)
ABANDONED = Q(status=S.CLOSED, assigned_at__isnull=True)
RESOLVED = Q(status=S.CLOSED, assigned_at__isnull=False)
RESPONDED = Q(first_agent_reply_at__isnull=False)


def _answered_in_time() -> Q:
    # The wait and the threshold are both durations, compared in the database (microseconds on MySQL
    # and SQLite alike); the threshold is each conversation's own queue's.
    return ANSWERED & Q(waited__lte=THRESHOLD)


def arrivals(*, start: datetime, end: datetime):
    """Conversations that entered a queue in [start, end), bounded to an index range on created_at."""
    return Conversation.objects.filter(
        created_at__gte=start - arrival_lookback(),
        created_at__lt=end,
        first_queued_at__gte=start,
        first_queued_at__lt=end,
        queue__isnull=False,
    )


def queue_figure_aggregates(prefix: str = "", condition: Q | None = None) -> dict[str, Any]:
    """The wait figures of a window, as aggregate expressions (optionally limited by `condition`)."""
    base = condition if condition is not None else Q()
    return {
        f"{prefix}arrived": Count("pk", filter=base) if condition is not None else Count("pk"),
        f"{prefix}answered": Count("pk", filter=base & ANSWERED),
        f"{prefix}answered_in_time": Count("pk", filter=base & _answered_in_time()),
        f"{prefix}abandoned": Count("pk", filter=base & ABANDONED),
        f"{prefix}wait_avg": Avg(WAIT, filter=base & ANSWERED),
    }


def seconds(value) -> float | None:
    """An AVG of a duration: a timedelta, or microseconds on backends that return the raw number."""
    if value is None:
        return None
    if isinstance(value, timedelta):
        return round(value.total_seconds(), 1)
    return round(float(value) / 1_000_000, 1)


def service_level(*, answered_in_time: int, answered: int, abandoned: int) -> float | None:
    finished = answered + abandoned
    return round(answered_in_time / finished, 4) if finished else None


def _window_figures(row: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    answered = row.get(f"{prefix}answered", 0) or 0
    abandoned = row.get(f"{prefix}abandoned", 0) or 0
    in_time = row.get(f"{prefix}answered_in_time", 0) or 0
    return {
        "arrived": row.get(f"{prefix}arrived", 0) or 0,
        "answered": answered,
        "answered_in_time": in_time,
        "abandoned": abandoned,
        "average_wait_s": seconds(row.get(f"{prefix}wait_avg")),
        "service_level": service_level(answered_in_time=in_time, answered=answered, abandoned=abandoned),
    }


def day_start(now: datetime) -> datetime:
    return timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)


# --- the live snapshot -------------------------------------------------------------------------------------
def _queue_live(now: datetime) -> dict[int, dict[str, Any]]:
    """Waiting now, the longest customer's wait and active conversations per queue: the switch's one
    definition (imsubsystem.selectors.queue_live), which /metrics and the sockets read too."""
    return switch_selectors.queue_live(now=now)


def _bot_live() -> list[dict[str, Any]]:
    """Conversations with the bot now, per inbox and queue (the queue the conversation goes to when the
    bot hands over, which is what a supervisor's scope follows): [{inbox_id, inbox, queue_id, count}]."""
    rows = (
        Conversation.objects.filter(status=S.BOT)
        .values("inbox_id", "inbox__name", "queue_id")
        .annotate(n=Count("pk"))
        .order_by("inbox__name", "inbox_id", "queue_id")
    )
    return [
        {"inbox_id": r["inbox_id"], "inbox": r["inbox__name"], "queue_id": r["queue_id"], "count": r["n"]} for r in rows
    ]


def bot_in_scope(rows: list[dict[str, Any]], *, queue_ids: frozenset[int], everything: bool) -> dict[str, Any]:
    """The bot figures a user may see: {total, inboxes: [{inbox_id, name, count}]}. A conversation with
    the bot counts where its queue is visible; one with no queue only for admins (`everything`)."""
    per_inbox: dict[int, dict[str, Any]] = {}
    for row in rows:
        if everything or row["queue_id"] in queue_ids:
            entry = per_inbox.setdefault(
                row["inbox_id"], {"inbox_id": row["inbox_id"], "name": row["inbox"], "count": 0}
            )
            entry["count"] += row["count"]
    inboxes = sorted(per_inbox.values(), key=lambda e: (e["name"], e["inbox_id"]))
    return {"total": sum(e["count"] for e in inboxes), "inboxes": inboxes}


def queue_windows(*, now: datetime) -> dict[int, dict[str, Any]]:
    """Per queue: the last 30 minutes and today (since local midnight), in one grouped query."""
    today = day_start(now)
    recent = now - RECENT_WINDOW
    start = min(today, recent)
    rows = (
        arrivals(start=start, end=now)
        .values("queue_id")
        .annotate(
            **queue_figure_aggregates("recent_", Q(first_queued_at__gte=recent)),
            **queue_figure_aggregates("today_", Q(first_queued_at__gte=today)),
        )
    )
    return {
        row["queue_id"]: {"recent": _window_figures(row, "recent_"), "today": _window_figures(row, "today_")}
        for row in rows
    }


def _agent_day(now: datetime, agent_ids: list[int]) -> dict[int, dict[str, Any]]:
    """Conversations each agent closed today, their average handle time, and offers they let expire."""
    today = day_start(now)
    handled = {
        row["assignee_id"]: row
        for row in Conversation.objects.filter(
            created_at__gte=today - arrival_lookback(),
            status=S.CLOSED,
            closed_at__gte=today,
            assignee_id__in=agent_ids,
            assigned_at__isnull=False,
        )
        .values("assignee_id")
        .annotate(handled=Count("pk"), handle_avg=Avg(HANDLE))
    }
    missed = dict(
        Offer.objects.filter(agent_id__in=agent_ids, status=OfferStatus.EXPIRED, created_at__gte=today)
        .values("agent_id")
        .annotate(n=Count("pk"))
        .values_list("agent_id", "n")
    )
    return {
        agent_id: {
            "handled_today": (handled.get(agent_id) or {}).get("handled", 0),
            "average_handle_s": seconds((handled.get(agent_id) or {}).get("handle_avg")),
            "offers_missed_today": missed.get(agent_id, 0),
        }
        for agent_id in agent_ids
    }


def _agents(now: datetime) -> list[dict[str, Any]]:
    profiles = list(AgentProfile.objects.select_related("user").prefetch_related("queues").order_by("user__username"))
    loads = dict(
        Conversation.objects.filter(status=S.ASSIGNED, assignee__isnull=False)
        .values("assignee_id")
        .annotate(n=Count("pk"))
        .values_list("assignee_id", "n")
    )
    day = _agent_day(now, [p.user_id for p in profiles])
    agents = []
    for profile in profiles:
        load = loads.get(profile.user_id, 0)
        capacity = int(profile.default_capacity)
        agents.append(
            {
                "agent_id": profile.user_id,
                "name": switch_selectors.user_display_name(profile.user),
                "status": profile.status,
                "connected": profile.connected,
                "state": agent_state(status=profile.status, load=load, capacity=capacity, connected=profile.connected),
                "status_since": profile.status_changed_at.isoformat() if profile.status_changed_at else None,
                "load": load,
                "capacity": capacity,
                "occupancy": round(load / capacity, 4) if capacity else None,
                "queue_ids": sorted(q.pk for q in profile.queues.all()),
                **day[profile.user_id],
            }
        )
    return agents


def agent_state(*, status: str, load: int, capacity: int, connected: bool = True) -> str:
    """available (can take a conversation) | busy (available but at capacity) | away | offline |
    disconnected (chose available or away, but has had no console for longer than the grace: routing
    offers them nothing until a console of theirs connects again)."""
    shown = agent_presence_shown(status=status, connected=connected)
    if shown == DISCONNECTED:
        return DISCONNECTED
    if status == AgentStatus.AVAILABLE:
        return "busy" if load >= capacity else "available"
    return status if status in (AgentStatus.AWAY, AgentStatus.OFFLINE) else AgentStatus.OFFLINE


def alerts_for(*, thresholds: QueueAlertThresholds | None, longest_wait_s: int, service_level: float | None):
    """The alerts of one queue: [{metric, level, value, threshold}], critical before warning."""
    if thresholds is None:
        return []
    found = []
    wait_crit, wait_warn = thresholds.longest_wait_critical_s, thresholds.longest_wait_warning_s
    if wait_crit is not None and longest_wait_s >= wait_crit:
        found.append({"metric": "longest_wait", "level": "critical", "value": longest_wait_s, "threshold": wait_crit})
    elif wait_warn is not None and longest_wait_s >= wait_warn:
        found.append({"metric": "longest_wait", "level": "warning", "value": longest_wait_s, "threshold": wait_warn})
    if service_level is not None:
        pct = round(service_level * 100, 1)
        sl_crit, sl_warn = thresholds.service_level_critical_pct, thresholds.service_level_warning_pct
        if sl_crit is not None and pct <= sl_crit:
            found.append({"metric": "service_level", "level": "critical", "value": pct, "threshold": sl_crit})
        elif sl_warn is not None and pct <= sl_warn:
            found.append({"metric": "service_level", "level": "warning", "value": pct, "threshold": sl_warn})
    return found


def snapshot_compute(*, now: datetime | None = None) -> dict[str, Any]:
    """Every queue's and agent's live figures (unscoped). A fixed handful of grouped queries."""
    now = now or timezone.now()
    live = _queue_live(now)
    windows = queue_windows(now=now)
    agents = _agents(now)
    thresholds = {t.queue_id: t for t in QueueAlertThresholds.objects.all()}
    queues = []
    for queue in Queue.objects.filter(is_active=True).order_by("name"):
        row = live.get(queue.pk, {"waiting": 0, "longest_wait_s": 0, "active": 0})
        window = windows.get(queue.pk) or {"recent": _window_figures({}), "today": _window_figures({})}
        members = [a for a in agents if queue.pk in a["queue_ids"]]
        by_state = {"available": 0, "busy": 0, "away": 0, "offline": 0, DISCONNECTED: 0}
        for member in members:
            by_state[member["state"]] += 1
        capacity = sum(a["capacity"] for a in members if a["state"] in ("available", "busy"))
        queues.append(
            {
                "queue_id": queue.pk,
                "name": queue.name,
                "threshold_s": queue.service_level_threshold_s,
                "waiting": row["waiting"],
                "longest_wait_s": row["longest_wait_s"],
                "active": row["active"],
                "capacity": capacity,
                "occupancy": round(row["active"] / capacity, 4) if capacity else None,
                "agents": by_state,
                "recent": window["recent"],
                "today": window["today"],
                "alerts": alerts_for(
                    thresholds=thresholds.get(queue.pk),
                    longest_wait_s=row["longest_wait_s"],
                    service_level=window["recent"]["service_level"],
                ),
            }
        )
    return {"at": now.isoformat(), "queues": queues, "agents": agents, "bot": _bot_live()}


def snapshot_cached() -> dict[str, Any]:
    """The unscoped snapshot, recomputed when older than SUPERVISOR_SNAPSHOT_TTL_S (1 s) and shared by
    every supervisor socket of every process through the Django cache (Redis in production)."""
    ttl = _setting("SUPERVISOR_SNAPSHOT_TTL_S", 1.0)
    entry = cache.get(SNAPSHOT_KEY)
    if entry is not None and time.time() - entry["computed"] < ttl:
        return entry["snapshot"]
    snapshot = snapshot_compute()
    cache.set(SNAPSHOT_KEY, {"computed": time.time(), "snapshot": snapshot}, timeout=max(2, math.ceil(ttl * 2)))
    return snapshot


def spread(values: list[float]) -> dict[str, float | None]:
    """max, min, max - min, mean and coefficient of variation (population std / mean) of some figures."""
    if not values:
        return {"max": None, "min": None, "range": None, "mean": None, "cv": None}
    mean = statistics.fmean(values)
    cv = statistics.pstdev(values) / mean if mean else (0.0 if len(values) else None)
    return {
        "max": round(max(values), 4),
        "min": round(min(values), 4),
        "range": round(max(values) - min(values), 4),
        "mean": round(mean, 4),
        "cv": round(cv, 4) if cv is not None else None,
    }


def queue_stats_snapshot(*, user) -> dict[str, Any]:
    """The live snapshot limited to what `user` may see (supervisor.selectors scope).

    This is the provider the supervisor socket sends; a switch socket may call it too (settings
    SUPERVISOR_STATS_PROVIDER = "supervisor.stats.queue_stats_snapshot").
    """
    queue_ids, agent_ids = _scope_cached(user)
    snapshot = snapshot_cached()
    queues = [q for q in snapshot["queues"] if q["queue_id"] in queue_ids]
    agents = [
        {**a, "queue_ids": [q for q in a["queue_ids"] if q in queue_ids]}
        for a in snapshot["agents"]
        if a["agent_id"] in agent_ids
    ]
    working = [a["occupancy"] for a in agents if a["state"] in ("available", "busy") and a["occupancy"] is not None]
    fairness = fairness_cached()
    per_agent = {
        a["agent_id"]: fairness["by_agent"].get(str(a["agent_id"]), {"total": 0, "per_hour": 0.0, "hours": {}})
        for a in agents
    }
    return {
        "type": "supervisor.snapshot",
        "at": snapshot["at"],
        "queues": queues,
        "agents": agents,
        "bot": bot_in_scope(snapshot.get("bot", []), queue_ids=queue_ids, everything=user_is_admin(user)),
        "alerts": [{**alert, "queue_id": q["queue_id"], "queue": q["name"]} for q in queues for alert in q["alerts"]],
        "fairness": {
            "occupancy": spread(working),
            "assignments": {
                "since": fairness["since"],
                "hours": fairness["hours"],
                "per_agent": {str(k): v for k, v in per_agent.items()},
                "per_hour_spread": spread([v["per_hour"] for v in per_agent.values()]),
            },
        },
    }


def queue_stats_frame(*, user) -> dict[str, Any]:
    """CONTRACT.md's `queue.stats` frame for /ws/v1/supervisor/, from the same scoped snapshot the
    dashboard shows (settings.IM_QUEUE_STATS_PROVIDER names this function; the switch imports nothing
    of this app). Today's figures for the averages, service level and abandoned."""
    snapshot = queue_stats_snapshot(user=user)
    return {
        "type": "queue.stats",
        "at": snapshot["at"],
        "queues": [
            {
                "queue_id": q["queue_id"],
                "name": q["name"],
                "waiting": q["waiting"],
                "longest_wait_s": q["longest_wait_s"],
                "average_wait_s": q["today"]["average_wait_s"],
                "service_level": q["today"]["service_level"],
                "abandoned": q["today"]["abandoned"],
                "active": q["active"],
                "agents": q["agents"],
            }
            for q in snapshot["queues"]
        ],
        "bot": snapshot["bot"],
        "agents": [
            {
                "agent_id": a["agent_id"],
                "name": a["name"],
                "status": a["status"],
                "connected": a["connected"],
                "state": a["state"],
                "load": a["load"],
            }
            for a in snapshot["agents"]
        ],
    }


def _scope_cached(user) -> tuple[frozenset[int], frozenset[int]]:
    """A user's visible queue and agent ids, re-read every few seconds (team edits show up quickly)."""
    key = f"supervisor:scope:{user.pk}"
    found = cache.get(key)
    if found is not None:
        return frozenset(found[0]), frozenset(found[1])
    queue_ids = queue_ids_visible(user=user)
    agent_ids = agent_ids_visible(user=user, queue_ids=queue_ids)
    cache.set(key, (sorted(queue_ids), sorted(agent_ids)), timeout=_setting("SUPERVISOR_SCOPE_TTL_S", 5))
    return queue_ids, agent_ids


# --- fairness: assignments per agent per hour, from routing's ledger -------------------------------------------
def ledger_floor_id(*, since: datetime) -> int | None:
    """The smallest ledger id that may hold an event at or after `since`, found by bisecting the primary
    key (the ledger is appended in time order), so the hourly count reads an index range, not the table.
    Returns None when the ledger has nothing that recent."""
    bounds = AssignmentEvent.objects.order_by("id").values_list("id", flat=True)
    low, high = bounds.first(), AssignmentEvent.objects.order_by("-id").values_list("id", flat=True).first()
    if low is None:
        return None
    # Processes stamp `at` a moment before they append, so allow a minute of disorder.
    target = since - timedelta(minutes=1)
    while low < high:
        middle = (low + high) // 2
        at = AssignmentEvent.objects.filter(id__gte=middle).order_by("id").values_list("at", flat=True).first()
        if at is not None and at < target:
            low = middle + 1
        else:
            high = middle
    return low


def assignments_by_agent_hour(*, since: datetime, until: datetime) -> list[dict[str, Any]]:
    """[{agent_id, hour, n}]: the ledger's `assigned` decisions (offers accepted, picks, transfers)."""
    floor = ledger_floor_id(since=since)
    if floor is None:
        return []
    return list(
        AssignmentEvent.objects.filter(
            id__gte=floor, kind=AssignmentEvent.Kind.ASSIGNED, at__gte=since, at__lt=until, agent_id__isnull=False
        )
        .annotate(hour=TruncHour("at"))
        .values("agent_id", "hour")
        .annotate(n=Count("pk"))
        .order_by("hour", "agent_id")
    )


def fairness_compute(*, now: datetime | None = None) -> dict[str, Any]:
    """Assignments per agent per hour today (unscoped): per agent the hourly counts, the total and the
    rate per hour elapsed since local midnight."""
    now = now or timezone.now()
    since = day_start(now)
    elapsed_h = max((now - since).total_seconds() / 3600, 1 / 60)
    hours = [(since + timedelta(hours=h)).isoformat() for h in range(int(elapsed_h) + 1)]
    by_agent: dict[str, dict[str, Any]] = defaultdict(lambda: {"total": 0, "hours": {}})
    for row in assignments_by_agent_hour(since=since, until=now + timedelta(seconds=1)):
        entry = by_agent[str(row["agent_id"])]
        entry["hours"][timezone.localtime(row["hour"]).isoformat()] = row["n"]
        entry["total"] += row["n"]
    for entry in by_agent.values():
        entry["per_hour"] = round(entry["total"] / elapsed_h, 3)
    return {"since": since.isoformat(), "hours": hours, "by_agent": dict(by_agent)}


def fairness_cached() -> dict[str, Any]:
    entry = cache.get(FAIRNESS_KEY)
    ttl = _setting("SUPERVISOR_FAIRNESS_TTL_S", 10)
    if entry is not None and time.time() - entry["computed"] < ttl:
        return entry["fairness"]
    fairness = fairness_compute()
    cache.set(FAIRNESS_KEY, {"computed": time.time(), "fairness": fairness}, timeout=ttl * 2)
    return fairness


# --- reports ---------------------------------------------------------------------------------------------------
REPORT_PERIODS = {"day": TruncDay, "hour": TruncHour}
REPORT_DIMENSIONS = {"queue": "queue_id", "agent": "assignee_id"}


def _survey_rating():
    """The satisfaction rating of a conversation from the bots' survey, if the bots app records one."""
    try:
        survey = apps.get_model("bots", "SurveyResponse")
    except LookupError:
        return None
    return Subquery(
        survey.objects.filter(conversation_id=OuterRef("pk"), rating__isnull=False)
        .order_by("-answered_at", "-id")
        .values("rating")[:1],
        output_field=IntegerField(),
    )


def report_rows(
    *, start: datetime, end: datetime, period: str, dimension: str, queue_ids, agent_ids=None
) -> list[dict[str, Any]]:
    """Figures per (period, queue or agent) for arrivals in [start, end), each row's conversations being
    those that first entered a queue in that period (per queue: its queue; per agent: its assignee)."""
    if period not in REPORT_PERIODS:
        raise ValueError(f"period must be one of {', '.join(REPORT_PERIODS)}.")
    if dimension not in REPORT_DIMENSIONS:
        raise ValueError(f"dimension must be one of {', '.join(REPORT_DIMENSIONS)}.")
    key = REPORT_DIMENSIONS[dimension]
    rows = arrivals(start=start, end=end).filter(queue_id__in=queue_ids)
    if dimension == "agent":
        rows = rows.filter(assignee_id__in=agent_ids if agent_ids is not None else [], assignee__isnull=False)
    rating = _survey_rating()
    if rating is not None:
        rows = rows.annotate(rating=rating)
    tz = timezone.get_current_timezone()
    aggregates = {
        **queue_figure_aggregates(),
        "first_response_avg": Avg(FIRST_RESPONSE, filter=RESPONDED),
        "handle_avg": Avg(HANDLE, filter=RESOLVED),
        "resolved": Count("pk", filter=RESOLVED),
    }
    if rating is not None:
        aggregates["satisfaction_avg"] = Avg("rating")
        aggregates["rated"] = Count("rating")
    grouped = (
        rows.annotate(bucket=REPORT_PERIODS[period]("first_queued_at", tzinfo=tz))
        .values("bucket", key)
        .annotate(**aggregates)
        .order_by("bucket", key)
    )
    result = []
    for row in grouped:
        figures = _window_figures(row)
        arrived = figures["arrived"]
        result.append(
            {
                "bucket": row["bucket"],
                dimension + "_id": row[key],
                "volume": arrived,
                "answered": figures["answered"],
                "abandoned": figures["abandoned"],
                "abandonment": round(figures["abandoned"] / arrived, 4) if arrived else None,
                "service_level": figures["service_level"],
                "average_wait_s": figures["average_wait_s"],
                "first_response_s": seconds(row["first_response_avg"]),
                "handle_s": seconds(row["handle_avg"]),
                "resolved": row["resolved"],
                "resolution": round(row["resolved"] / arrived, 4) if arrived else None,
                "satisfaction": round(float(row["satisfaction_avg"]), 2)
                if row.get("satisfaction_avg") is not None
                else None,
                "rated": row.get("rated", 0),
            }
        )
    return result


# --- staffing ---------------------------------------------------------------------------------------------------
SLOT_S = 30 * 60


def _slot_expr():
    """The half-hour of the day (0..47) of first_queued_at, computed by the database."""
    tz = timezone.get_current_timezone()
    return ExpressionWrapper(
        ExtractHour("first_queued_at", tzinfo=tz) * Value(2)
        + Case(When(Q(minute__gte=30), then=Value(1)), default=Value(0), output_field=IntegerField()),
        output_field=BigIntegerField(),
    )


def _slot_counts(rows) -> dict[tuple[int, int], int]:
    """{(queue id, half-hour 0..47): arrivals} of some arrivals, grouped by the database."""
    tz = timezone.get_current_timezone()
    grouped = (
        rows.annotate(minute=ExtractMinute("first_queued_at", tzinfo=tz))
        .annotate(slot=_slot_expr())
        .values("queue_id", "slot")
        .annotate(n=Count("pk"))
    )
    return {(row["queue_id"], row["slot"]): row["n"] for row in grouped}


def _first_days(rows) -> dict[int, Any]:
    """Per queue, the local day of its first arrival among `rows` (an index-bounded window)."""
    firsts = rows.values("queue_id").annotate(first=Min("first_queued_at")).values_list("queue_id", "first")
    return {queue_id: timezone.localtime(first).date() for queue_id, first in firsts if first}


def staffing_history(*, queue_ids, weeks: int, weekday: int, now: datetime | None = None) -> dict[int, Any]:
    """Per queue, from the last `weeks` weeks before today: the average arrivals in each half-hour of
    `weekday` (ISO 1 = Monday ... 7 = Sunday) and the average handle time over the whole history.

    The average is over the weeks the queue has had arrivals for: a queue whose first arrival in the
    window is two weeks ago divides by the one or two `weekday`s since, not by `weeks` (`weeks_counted`;
    0 when none, and the plan then falls back to the recent days)."""
    now = now or timezone.now()
    end = day_start(now)
    start = end - timedelta(days=7 * weeks)
    tz = timezone.get_current_timezone()
    history = arrivals(start=start, end=end).filter(queue_id__in=queue_ids)
    first_days = _first_days(history)
    # Django's week_day runs 1 = Sunday ... 7 = Saturday.
    django_weekday = weekday % 7 + 1
    counts = _slot_counts(
        history.annotate(weekday=ExtractWeekDay("first_queued_at", tzinfo=tz)).filter(weekday=django_weekday)
    )
    handle = dict(history.filter(RESOLVED).values("queue_id").annotate(h=Avg(HANDLE)).values_list("queue_id", "h"))
    # Calendar days (date arithmetic: an aware midnight plus whole days drifts across a clock change).
    first_day = timezone.localtime(start).date()
    days = [first_day + timedelta(days=n) for n in range(7 * weeks)]
    days = [day for day in days if day.isoweekday() == weekday]
    result: dict[int, Any] = {}
    for queue_id in queue_ids:
        first = first_days.get(queue_id)
        counted = sum(1 for day in days if first is not None and day >= first)
        result[queue_id] = {
            "arrivals": [counts.get((queue_id, slot), 0) / counted if counted else 0.0 for slot in range(48)],
            "aht_s": seconds(handle.get(queue_id)),
            "weeks_counted": counted,
        }
    return result


def staffing_recent(*, queue_ids, now: datetime | None = None, days: int | None = None) -> dict[int, Any]:
    """Per queue, from the recent days (the last `days`, default SUPERVISOR_STAFFING_RECENT_DAYS = 7, today
    so far included): the average arrivals in each half-hour of a day, whatever its weekday, and the
    average handle time. For an install or a queue too young for weekly history.

    A half-hour's average is over the days the queue had arrivals for (from its first arrival in the
    window) on which that half-hour has begun: today counts only up to the current half-hour."""
    now = now or timezone.now()
    days = days or _setting("SUPERVISOR_STAFFING_RECENT_DAYS", 7)
    today = day_start(now)
    start = today - timedelta(days=days - 1)
    recent = arrivals(start=start, end=now).filter(queue_id__in=queue_ids)
    first_days = _first_days(recent)
    counts = _slot_counts(recent)
    handle = dict(recent.filter(RESOLVED).values("queue_id").annotate(h=Avg(HANDLE)).values_list("queue_id", "h"))
    local_now = timezone.localtime(now)
    current_slot = local_now.hour * 2 + local_now.minute // 30
    result: dict[int, Any] = {}
    for queue_id in queue_ids:
        first = first_days.get(queue_id)
        before_today = (local_now.date() - first).days if first else 0
        arrivals_per_slot = []
        for slot in range(48):
            counted = (before_today + (1 if slot <= current_slot else 0)) if first else 0
            arrivals_per_slot.append(counts.get((queue_id, slot), 0) / counted if counted else 0.0)
        result[queue_id] = {
            "arrivals": arrivals_per_slot,
            "aht_s": seconds(handle.get(queue_id)),
            "days_counted": before_today + 1 if first else 0,
        }
    return result


def _basis(kind: str, *, weeks: int = 0, days: int = 0, figure: str) -> dict[str, Any]:
    """What a staffing figure was computed from, for the page and the API."""
    if kind == "weeks":
        label = (
            f"the same weekday over the last {weeks} week{'s' if weeks != 1 else ''}"
            if figure == "arrivals"
            else f"conversations handled over the last {weeks} week{'s' if weeks != 1 else ''}"
        )
    elif kind == "recent_days":
        span = "today so far" if days == 1 else f"the last {days} days, today so far included"
        label = (
            f"recent days, any weekday ({span}): too little weekly history"
            if figure == "arrivals"
            else f"conversations handled in recent days ({span}): none in the weekly history"
        )
    else:
        label = "no arrivals yet" if figure == "arrivals" else "unknown: no conversation handled yet"
    return {"kind": kind, "weeks": weeks, "days": days, "label": label}


def staffed_today(*, queue_ids, now: datetime | None = None) -> dict[int, list[int]]:
    """Per queue and half-hour of today: how many different agents took a conversation of that queue."""
    now = now or timezone.now()
    today = day_start(now)
    tz = timezone.get_current_timezone()
    slots = (
        Conversation.objects.filter(
            created_at__gte=today - arrival_lookback(),
            assigned_at__gte=today,
            queue_id__in=queue_ids,
            assignee__isnull=False,
        )
        .annotate(hour=ExtractHour("assigned_at", tzinfo=tz), minute=ExtractMinute("assigned_at", tzinfo=tz))
        .annotate(
            slot=ExpressionWrapper(
                F("hour") * Value(2)
                + Case(When(Q(minute__gte=30), then=Value(1)), default=Value(0), output_field=IntegerField()),
                output_field=BigIntegerField(),
            )
        )
        .values("queue_id", "slot")
        .annotate(agents=Count("assignee_id", distinct=True))
    )
    result = {q: [0] * 48 for q in queue_ids}
    for row in slots:
        result[row["queue_id"]][row["slot"]] = row["agents"]
    return result


def staffing_plan(*, queue_ids, weeks: int = 4, weekday: int | None = None, now: datetime | None = None):
    """Per queue, per half-hour of `weekday` (default today): forecast arrivals (average of the last
    weeks; for a queue with no weekly history yet, of the recent days), the Erlang C agents needed for the
    queue's service-level target, and (for today) the agents who actually took conversations. Each queue
    says what its arrivals and its handle time were computed from (`arrivals_basis`, `aht_basis`:
    {kind: weeks | recent_days | none, weeks, days, label})."""
    now = now or timezone.now()
    weekday = weekday or timezone.localtime(now).isoweekday()
    queues = {q.pk: q for q in Queue.objects.filter(pk__in=queue_ids).order_by("name")}
    targets = {t.queue_id: t for t in QueueAlertThresholds.objects.filter(queue_id__in=queue_ids)}
    history = staffing_history(queue_ids=list(queues), weeks=weeks, weekday=weekday, now=now)
    recent = staffing_recent(queue_ids=list(queues), now=now)
    is_today = weekday == timezone.localtime(now).isoweekday()
    staffed = staffed_today(queue_ids=list(queues), now=now) if is_today else {}
    current_slot = (timezone.localtime(now).hour * 2 + timezone.localtime(now).minute // 30) if is_today else None
    plan = []
    for queue_id, queue in queues.items():
        target = targets.get(queue_id)
        level = (target.service_level_target_pct if target else 80) / 100
        concurrency = target.concurrency if target else 1
        past, young = history[queue_id], recent[queue_id]
        # Past weeks when the queue has them; else the recent days (a young install); say which.
        if past["weeks_counted"]:
            forecasts = past["arrivals"]
            arrivals_basis = _basis("weeks", weeks=past["weeks_counted"], figure="arrivals")
        elif young["days_counted"]:
            forecasts = young["arrivals"]
            arrivals_basis = _basis("recent_days", days=young["days_counted"], figure="arrivals")
        else:
            forecasts = [0.0] * 48
            arrivals_basis = _basis("none", figure="arrivals")
        if past["aht_s"] is not None:
            aht = past["aht_s"]
            aht_basis = _basis("weeks", weeks=weeks, figure="aht")
        elif young["aht_s"] is not None:
            aht = young["aht_s"]
            aht_basis = _basis("recent_days", days=young["days_counted"], figure="aht")
        else:
            aht = None
            aht_basis = _basis("none", figure="aht")
        slots = []
        for slot in range(48):
            forecast = forecasts[slot]
            servers = (
                erlang.agents_needed(
                    arrivals=forecast,
                    period_s=SLOT_S,
                    aht_s=aht,
                    target_s=queue.service_level_threshold_s,
                    target_level=level,
                )
                if aht and forecast
                else 0
            )
            slots.append(
                {
                    "slot": slot,
                    "start": f"{slot // 2:02d}:{30 * (slot % 2):02d}",
                    "arrivals": round(forecast, 2),
                    "traffic": round(forecast * aht / SLOT_S, 3) if aht else 0.0,
                    "servers": servers,
                    "agents_needed": math.ceil(servers / concurrency),
                    "agents_staffed": staffed[queue_id][slot] if is_today and slot <= current_slot else None,
                }
            )
        plan.append(
            {
                "queue_id": queue_id,
                "name": queue.name,
                "aht_s": aht,
                "arrivals_basis": arrivals_basis,
                "aht_basis": aht_basis,
                "threshold_s": queue.service_level_threshold_s,
                "target_level": level,
                "concurrency": concurrency,
                "current_slot": current_slot,
                "slots": slots,
            }
        )
    return plan
