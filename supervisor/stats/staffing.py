"""Staffing of the supervisor app: per queue and half-hour of a day, the arrivals forecast from the same
weekday of past weeks (or, for a young queue, from the recent days), the average handle time, the agents
Erlang C says the queue's service-level target needs (supervisor.erlang) and, for today, the agents who
actually took conversations.

Reads that may lag (core.replica): the plan and its history come from the replica when one is configured
and answers.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

from django.db.models import (
    Avg,
    BigIntegerField,
    Case,
    Count,
    ExpressionWrapper,
    F,
    IntegerField,
    Min,
    Q,
    Value,
    When,
)
from django.db.models.functions import ExtractHour, ExtractMinute, ExtractWeekDay
from django.utils import timezone

from core.replica import may_lag
from imsubsystem.models import Conversation
from routing.models import Queue
from supervisor import erlang
from supervisor.models import QueueAlertThresholds
from supervisor.stats.figures import HANDLE, RESOLVED, arrival_lookback, arrivals, day_start, seconds, setting

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


@may_lag
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


@may_lag
def staffing_recent(*, queue_ids, now: datetime | None = None, days: int | None = None) -> dict[int, Any]:
    """Per queue, from the recent days (the last `days`, default SUPERVISOR_STAFFING_RECENT_DAYS = 7, today
    so far included): the average arrivals in each half-hour of a day, whatever its weekday, and the
    average handle time. For an install or a queue too young for weekly history.

    A half-hour's average is over the days the queue had arrivals for (from its first arrival in the
    window) on which that half-hour has begun: today counts only up to the current half-hour."""
    now = now or timezone.now()
    days = days or setting("SUPERVISOR_STAFFING_RECENT_DAYS", 7)
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


@may_lag
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


@may_lag
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
