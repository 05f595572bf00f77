"""The historical report as people and programs read it: the rows of the one statistics service
(`supervisor.stats.report_rows`) for what a user may see, named, and written as CSV. The reports page, its
CSV export (supervisor.views) and the integrator API (`/api/rest/v1/reports/…`) all call these, so the
three show the same figures and the two CSVs are the same bytes.
"""

from __future__ import annotations

import csv
from datetime import datetime
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from imsubsystem.models import CloseReason, Label
from supervisor import selectors, stats

# (key, the page's column heading). The CSV files (the page's export and the integrator API's) name their
# columns by key: machine-readable and the same in every language.
REPORT_COLUMNS = [
    ("volume", _("Volume")),
    ("answered", _("Answered")),
    ("abandoned", _("Abandoned")),
    ("abandonment", _("Abandonment")),
    ("service_level", _("Service level")),
    ("average_wait_s", _("Avg wait (s)")),
    ("first_response_s", _("First response (s)")),
    ("handle_s", _("Handle time (s)")),
    ("resolved", _("Resolved")),
    ("resolution", _("Resolution")),
    ("satisfaction", _("Satisfaction (1-5)")),
    ("rated", _("Ratings")),
]


def report_for_user(
    *,
    user,
    start_at: datetime,
    end_at: datetime,
    period: str,
    dimension: str,
    queue_ids: set[int] | frozenset[int] | None = None,
) -> list[dict[str, Any]]:
    """The report rows `user` may see: the visible queues (cut down to `queue_ids` when given), per agent
    the visible agents, per label or close reason the visible queues' conversations; each row with the
    queue's, agent's, label's or reason's `name` and its local `bucket_label`."""
    queues = selectors.queues_visible(user=user)
    visible = {q["id"] for q in queues}
    if queue_ids is not None:
        visible &= set(queue_ids)
    names = {q["id"]: q["name"] for q in queues}
    agent_ids = None
    if dimension == "agent":
        agents = selectors.agents_visible(user=user)
        names = {a["id"]: a["name"] for a in agents}
        agent_ids = list(names)
    elif dimension == "label":
        names = dict(Label.objects.values_list("pk", "name"))
    elif dimension == "close_reason":
        names = dict(CloseReason.objects.values_list("pk", "name"))
    rows = stats.report_rows(
        start=start_at, end=end_at, period=period, dimension=dimension, queue_ids=list(visible), agent_ids=agent_ids
    )
    key = dimension + "_id"
    for row in rows:
        row["name"] = names.get(row[key], f"#{row[key]}")
        label = "%Y-%m-%d" if period == "day" else "%Y-%m-%d %H:00"
        row["bucket_label"] = timezone.localtime(row["bucket"]).strftime(label)
    return rows


def report_csv_filename(*, dimension: str, period: str, start, end) -> str:
    return f"switchboard-{dimension}-{period}-{start}-{end}.csv"


def report_csv_write(out, *, rows: list[dict[str, Any]], dimension: str) -> None:
    """The CSV export of `rows` (from report_for_user) into the text file `out`."""
    writer = csv.writer(out)
    writer.writerow(["period_start", dimension + "_id", dimension, *[k for k, _ in REPORT_COLUMNS]])
    for row in rows:
        name = row["name"]
        # A cell starting with = + - @ is a formula to spreadsheet programs: neutralise it.
        if name[:1] in ("=", "+", "-", "@"):
            name = "'" + name
        writer.writerow(
            [
                timezone.localtime(row["bucket"]).isoformat(),
                row[dimension + "_id"],
                name,
                *["" if row[k] is None else row[k] for k, _ in REPORT_COLUMNS],
            ]
        )
