"""The definitions every supervisor figure is built from: the aggregate expressions, the arrivals of a
window and the figures of a window, so a number means the same on the live dashboard, in the reports and
in the staffing plan (supervisor.stats.live, .reports, .staffing and .fairness all read them from here).

Every figure is computed by the database (grouped COUNT / AVG with conditional filters) over a bounded
time window; no rows are loaded into Python to be counted. MySQL and routing's records are the truth:
nothing is kept in process memory, so any number of daphne and Celery processes agree.

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

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Avg, Count, DurationField, ExpressionWrapper, F, Q, Value
from django.utils import timezone

from imsubsystem.models import Conversation, ConversationStatus

S = ConversationStatus
WAITING = (S.QUEUED, S.OFFERED)


def setting(name: str, default: Any) -> Any:
    """A SUPERVISOR_* setting, read at call time (tests and deployments override them)."""
    return getattr(settings, name, default)


def arrival_lookback() -> timedelta:
    """How long before today a conversation may have been created and still count in the staffing plan's
    "agents staffed" (supervisor.stats.staffing.staffed_today, whose `assigned_at` has no index: the
    created_at index bounds it). The live figures and the reports read their windows through the
    first_queued_at and (status, closed_at) indexes and need no such bound."""
    return timedelta(hours=setting("SUPERVISOR_ARRIVAL_LOOKBACK_H", 24))


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
    """Conversations that entered a queue in [start, end): a range of the first_queued_at index, so a
    window costs its own rows, however long the history."""
    return Conversation.objects.filter(
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
    """Answered in time / (answered + abandoned); None when nothing finished in the window."""
    finished = answered + abandoned
    return round(answered_in_time / finished, 4) if finished else None


def window_figures(row: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """The figures of one window from a row of `queue_figure_aggregates(prefix)` (zeros when absent)."""
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
    """Local midnight of `now`: where "today" starts for every figure."""
    return timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
