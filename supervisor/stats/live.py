"""The live figures of the supervisor dashboard: per queue waiting now, the longest wait, the last 30
minutes and today; per agent state, load and today's work; the bot's conversations; the alerts. One unscoped
snapshot for the whole cluster, computed at most about once a second and shared through the Django cache,
then cut down to what each user may see (`queue_stats_snapshot`, the /ws/v1/supervisor/live/ frame, with
the fairness figures of supervisor.stats.fairness) or shaped as the switch's `queue.stats` frame
(`queue_stats_frame`, which the supervisor socket in `interface` calls).
"""

from __future__ import annotations

import math
import time
from datetime import datetime, timedelta
from typing import Any

from django.core.cache import cache
from django.db.models import Avg, Count, Q
from django.utils import timezone

from imsubsystem import selectors as switch_selectors
from imsubsystem.models import Conversation
from routing.models import DISCONNECTED, AgentProfile, AgentStatus, Offer, OfferStatus, Queue
from routing.selectors import agent_presence_shown
from supervisor.models import QueueAlertThresholds
from supervisor.selectors import agent_ids_visible, queue_ids_visible, user_is_admin
from supervisor.stats.fairness import fairness_cached, spread
from supervisor.stats.figures import (
    HANDLE,
    S,
    arrivals,
    day_start,
    queue_figure_aggregates,
    seconds,
    setting,
    window_figures,
)

RECENT_WINDOW = timedelta(minutes=30)
SNAPSHOT_KEY = "supervisor:snapshot:v1"


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
        row["queue_id"]: {"recent": window_figures(row, "recent_"), "today": window_figures(row, "today_")}
        for row in rows
    }


def _agent_day(now: datetime, agent_ids: list[int]) -> dict[int, dict[str, Any]]:
    """Conversations each agent closed today, their average handle time, and offers they let expire: ranges
    of the (status, closed_at) and (status, created_at) indexes, today's rows only."""
    today = day_start(now)
    handled = {
        row["assignee_id"]: row
        for row in Conversation.objects.filter(
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
        window = windows.get(queue.pk) or {"recent": window_figures({}), "today": window_figures({})}
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
    ttl = setting("SUPERVISOR_SNAPSHOT_TTL_S", 1.0)
    entry = cache.get(SNAPSHOT_KEY)
    if entry is not None and time.time() - entry["computed"] < ttl:
        return entry["snapshot"]
    snapshot = snapshot_compute()
    cache.set(SNAPSHOT_KEY, {"computed": time.time(), "snapshot": snapshot}, timeout=max(2, math.ceil(ttl * 2)))
    return snapshot


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
    dashboard shows (the supervisor socket in `interface` calls it; nothing below this app imports it).
    Today's figures for the averages, service level and abandoned."""
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
    cache.set(key, (sorted(queue_ids), sorted(agent_ids)), timeout=setting("SUPERVISOR_SCOPE_TTL_S", 5))
    return queue_ids, agent_ids
