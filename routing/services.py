"""Routing's services, all keyword-only: the one module the switch, the supervisor, the bots, the admin,
tasks and commands call (`from routing import services`). Each lives in the module of its seam:

* commands.py, the decisions asked of routing: `work_enqueue`, `work_cancel`, `work_complete`,
  `work_transfer`, `work_pick`, `work_snooze_release`, `offer_accept`, `offer_reject`, `agent_presence_set`
* presence.py, presence follows the console: `agent_console_open`, `agent_console_close`,
  `agent_consoles_expect`, `agent_consoles_sweep`, `console_grace_s`, `console_heartbeat_s`
* sync.py, the backend's configuration in step with MySQL: `queue_sync`, `agent_sync`, and the queues
  following a business-hours schedule: `queue_hours_set`
* timers.py: `routing_tick`
* rebuild.py, the backend refilled from MySQL: `routing_rebuild`, `routing_ensure_built`
* estimates.py: `queue_position`, `queue_positions`

Decisions are written to MySQL by ledger.py; what happened reaches other apps as hook events
(hooks.py) after commit.
"""

from __future__ import annotations

from routing.commands import (
    MAX_SKILLS,
    agent_presence_set,
    offer_accept,
    offer_reject,
    work_cancel,
    work_complete,
    work_enqueue,
    work_pick,
    work_snooze_release,
    work_transfer,
)
from routing.estimates import queue_position, queue_positions
from routing.presence import (
    agent_console_close,
    agent_console_open,
    agent_consoles_expect,
    agent_consoles_sweep,
    console_grace_s,
    console_heartbeat_s,
)
from routing.rebuild import routing_ensure_built, routing_rebuild
from routing.sync import agent_sync, queue_hours_set, queue_sync
from routing.timers import routing_tick

__all__ = [
    "MAX_SKILLS",
    "agent_console_close",
    "agent_console_open",
    "agent_consoles_expect",
    "agent_consoles_sweep",
    "agent_presence_set",
    "agent_sync",
    "console_grace_s",
    "console_heartbeat_s",
    "offer_accept",
    "offer_reject",
    "queue_hours_set",
    "queue_position",
    "queue_positions",
    "queue_sync",
    "routing_ensure_built",
    "routing_rebuild",
    "routing_tick",
    "work_cancel",
    "work_complete",
    "work_enqueue",
    "work_pick",
    "work_snooze_release",
    "work_transfer",
]
