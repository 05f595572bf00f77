"""Historical reports of the supervisor app: figures per day or hour, per queue or agent, for the
arrivals of a period (volume, service level, abandonment, waits, first response, handle time, resolution,
satisfaction). The pages and the CSV export (supervisor.views) write these rows as they are.

Reads that may lag (core.replica): the rows come from the replica when one is configured and answers.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.apps import apps
from django.db.models import Avg, Count, IntegerField, OuterRef, Subquery
from django.db.models.functions import TruncDay, TruncHour
from django.utils import timezone

from core.replica import may_lag
from supervisor.stats.figures import (
    FIRST_RESPONSE,
    HANDLE,
    RESOLVED,
    RESPONDED,
    arrivals,
    queue_figure_aggregates,
    seconds,
    window_figures,
)

REPORT_PERIODS = {"day": TruncDay, "hour": TruncHour}
# Per label, a conversation counts once under each of its labels (and not at all without one); per close
# reason, under the reason picked when it closed (docs/supervisor.md, "Reports").
REPORT_DIMENSIONS = {
    "queue": "queue_id",
    "agent": "assignee_id",
    "label": "labels__id",
    "close_reason": "close_reason_id",
}


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


@may_lag
def report_rows(
    *, start: datetime, end: datetime, period: str, dimension: str, queue_ids, agent_ids=None
) -> list[dict[str, Any]]:
    """Figures per (period, queue, agent, label or close reason) for arrivals in [start, end), each row's
    conversations being those that first entered a queue in that period (per queue: its queue; per agent:
    its assignee; per label: each label it carries; per close reason: the reason it was closed with)."""
    if period not in REPORT_PERIODS:
        raise ValueError(f"period must be one of {', '.join(REPORT_PERIODS)}.")
    if dimension not in REPORT_DIMENSIONS:
        raise ValueError(f"dimension must be one of {', '.join(REPORT_DIMENSIONS)}.")
    key = REPORT_DIMENSIONS[dimension]
    rows = arrivals(start=start, end=end).filter(queue_id__in=queue_ids)
    if dimension == "agent":
        rows = rows.filter(assignee_id__in=agent_ids if agent_ids is not None else [], assignee__isnull=False)
    elif dimension == "label":
        rows = rows.filter(labels__isnull=False)
    elif dimension == "close_reason":
        rows = rows.filter(close_reason__isnull=False)
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
        figures = window_figures(row)
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
