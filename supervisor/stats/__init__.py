"""The one statistics service of the supervisor app: the live snapshot, the fairness figures, the reports
and the staffing plan all come from the same aggregate expressions, so a figure means the same everywhere.

Which module holds what (every public name is also importable from `supervisor.stats` itself, e.g.
`supervisor.stats.queue_stats_frame`, which the supervisor socket calls):

- `figures`: the definitions every figure is built from: the aggregate expressions (WAIT, HANDLE,
  ANSWERED, ...), `arrivals` of a window, `queue_figure_aggregates`, `window_figures`, `service_level`,
  `seconds`, `day_start`, `arrival_lookback`;
- `live`: the dashboard's live figures: the unscoped snapshot (`snapshot_compute`, `snapshot_cached`,
  `queue_windows`, `agent_state`, `alerts_for`, `bot_in_scope`), the scoped `queue_stats_snapshot`
  (/ws/v1/supervisor/live/ and /supervisor/api/snapshot) and the switch's `queue.stats` frame
  (`queue_stats_frame`);
- `fairness`: assignments per agent per hour from routing's ledger (`fairness_compute`, `fairness_cached`,
  `assignments_by_agent_hour`) and the `spread` of per-agent figures;
- `reports`: the historical report rows per day or hour, per queue or agent (`report_rows`), which the
  pages and the CSV export show;
- `staffing`: the arrivals forecast, handle time and Erlang C agents per half-hour (`staffing_plan`,
  `staffing_history`, `staffing_recent`, `staffed_today`).

Dependencies run one way: figures <- fairness <- live; figures <- reports; figures <- staffing (which also
reads supervisor.erlang). None of them imports the app's views, urls, admin or forms.
"""

from __future__ import annotations

from supervisor.stats.fairness import (
    FAIRNESS_KEY,
    assignments_by_agent_hour,
    fairness_cached,
    fairness_compute,
    spread,
)
from supervisor.stats.figures import (
    ABANDONED,
    ANSWERED,
    FIRST_RESPONSE,
    HANDLE,
    RESOLVED,
    RESPONDED,
    THRESHOLD,
    WAIT,
    WAITING,
    S,
    arrival_lookback,
    arrivals,
    day_start,
    queue_figure_aggregates,
    seconds,
    service_level,
    setting,
    window_figures,
)
from supervisor.stats.live import (
    RECENT_WINDOW,
    SNAPSHOT_KEY,
    agent_state,
    alerts_for,
    bot_in_scope,
    queue_stats_frame,
    queue_stats_snapshot,
    queue_windows,
    snapshot_cached,
    snapshot_compute,
)
from supervisor.stats.reports import REPORT_DIMENSIONS, REPORT_PERIODS, report_rows
from supervisor.stats.staffing import SLOT_S, staffed_today, staffing_history, staffing_plan, staffing_recent

__all__ = [
    "ABANDONED",
    "ANSWERED",
    "FAIRNESS_KEY",
    "FIRST_RESPONSE",
    "HANDLE",
    "RECENT_WINDOW",
    "REPORT_DIMENSIONS",
    "REPORT_PERIODS",
    "RESOLVED",
    "RESPONDED",
    "SLOT_S",
    "SNAPSHOT_KEY",
    "THRESHOLD",
    "WAIT",
    "WAITING",
    "S",
    "agent_state",
    "alerts_for",
    "arrival_lookback",
    "arrivals",
    "assignments_by_agent_hour",
    "bot_in_scope",
    "day_start",
    "fairness_cached",
    "fairness_compute",
    "queue_figure_aggregates",
    "queue_stats_frame",
    "queue_stats_snapshot",
    "queue_windows",
    "report_rows",
    "seconds",
    "service_level",
    "setting",
    "snapshot_cached",
    "snapshot_compute",
    "spread",
    "staffed_today",
    "staffing_history",
    "staffing_plan",
    "staffing_recent",
    "window_figures",
]
