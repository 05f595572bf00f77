"""Fairness figures of the supervisor dashboard: assignments per agent per hour today, read from routing's
assignment ledger, and the spread (max, min, range, mean, coefficient of variation) of per-agent figures.
Unscoped and shared through the Django cache for a few seconds; supervisor.stats.live scopes them.
"""

from __future__ import annotations

import statistics
import time
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from django.core.cache import cache
from django.db.models import Count
from django.db.models.functions import TruncHour
from django.utils import timezone

from routing.models import AssignmentEvent
from supervisor.stats.figures import day_start, setting

FAIRNESS_KEY = "supervisor:fairness:v1"


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


def assignments_by_agent_hour(*, since: datetime, until: datetime) -> list[dict[str, Any]]:
    """[{agent_id, hour, n}]: the ledger's `assigned` decisions (offers accepted, picks, transfers). The
    ledger's (kind, at) index holds them in time order, so only the window's rows are read, however long
    the ledger."""
    return list(
        AssignmentEvent.objects.filter(
            kind=AssignmentEvent.Kind.ASSIGNED, at__gte=since, at__lt=until, agent_id__isnull=False
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
    """`fairness_compute()`, recomputed when older than SUPERVISOR_FAIRNESS_TTL_S (10 s), shared through
    the Django cache."""
    entry = cache.get(FAIRNESS_KEY)
    ttl = setting("SUPERVISOR_FAIRNESS_TTL_S", 10)
    if entry is not None and time.time() - entry["computed"] < ttl:
        return entry["fairness"]
    fairness = fairness_compute()
    cache.set(FAIRNESS_KEY, {"computed": time.time(), "fairness": fairness}, timeout=ttl * 2)
    return fairness
