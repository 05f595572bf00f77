"""How far behind the replica is, for the dashboard (docs/supervisor.md, "Replica lag").

A heartbeat, not the replica's own `Seconds_Behind_Master`: beat writes one row on the primary every
DATABASE_REPLICA_HEARTBEAT_S (`heartbeat_write`, the `supervisor.replica_heartbeat` task), replication
carries it like any other write, and the lag is the primary's latest beat less the replica's. It measures
what a report actually misses, whatever the cause (a stopped SQL thread reads as NULL in SHOW SLAVE
STATUS, a broken IO thread as 0 while nothing arrives), needs no privilege on the replica, and compares
two times written by the primary's clock, so no clock skew between machines enters it. Its resolution is
the heartbeat period: a replica in step reads 0 to one period behind.
"""

from __future__ import annotations

from typing import Any

from django.db import DEFAULT_DB_ALIAS, DatabaseError
from django.db.models.functions import Now
from django.utils.translation import gettext

from core.errors import database_unreachable
from core.replica import HEALTH, REPLICA, replica_check, replica_configured, replica_down
from supervisor.models import ReplicaHeartbeat
from supervisor.stats.figures import setting

HEARTBEAT_ID = 1


def heartbeat_write() -> None:
    """The primary's heartbeat row, at the primary's clock (a no-op without a replica)."""
    if not replica_configured():
        return
    rows = ReplicaHeartbeat.objects.using(DEFAULT_DB_ALIAS)
    if not rows.filter(pk=HEARTBEAT_ID).update(beat_at=Now()):
        rows.get_or_create(pk=HEARTBEAT_ID, defaults={"beat_at": Now()})


def _down() -> dict[str, Any]:
    down = replica_down() or {}
    return {
        "configured": True,
        "state": "down",
        "lag_s": None,
        "since": down.get("since"),
        "text": gettext("Replica down, reading the primary: reports are current."),
    }


def replica_status() -> dict[str, Any]:
    """{configured, state: ok | down | unknown, lag_s, text}: what the dashboard shows of the replica."""
    if not replica_configured():
        return {
            "configured": False,
            "state": "none",
            "lag_s": None,
            "text": gettext("No replica: reports read the primary."),
        }
    if not HEALTH.usable() or not replica_check():
        return _down()
    primary = (
        ReplicaHeartbeat.objects.using(DEFAULT_DB_ALIAS)
        .filter(pk=HEARTBEAT_ID)
        .annotate(now=Now())
        .values("beat_at", "now")
        .first()
    )
    try:
        replica_beat = (
            ReplicaHeartbeat.objects.using(REPLICA).filter(pk=HEARTBEAT_ID).values_list("beat_at", flat=True).first()
        )
    except DatabaseError as exc:
        if not database_unreachable(exc):
            raise
        HEALTH.mark_down(exc)
        return _down()
    period = float(setting("DATABASE_REPLICA_HEARTBEAT_S", 1.0))
    if primary is None:
        return {
            "configured": True,
            "state": "unknown",
            "lag_s": None,
            "text": gettext("Replica lag unknown: no heartbeat written yet (beat writes it)."),
        }
    age = (primary["now"] - primary["beat_at"]).total_seconds()
    if age > max(5.0, 5 * period):
        return {
            "configured": True,
            "state": "unknown",
            "lag_s": None,
            "text": gettext("Replica lag unknown: no heartbeat written for %(age)d s (is beat running?).")
            % {"age": round(age)},
        }
    if replica_beat is None:
        return {
            "configured": True,
            "state": "unknown",
            "lag_s": None,
            "text": gettext(
                "Replica lag unknown: the replica has no heartbeat yet (not caught up, or not replicating)."
            ),
        }
    lag = max(0.0, (primary["beat_at"] - replica_beat).total_seconds())
    return {
        "configured": True,
        "state": "ok",
        "lag_s": round(lag, 1),
        "text": gettext("Reports read the replica, %(lag)d s behind the primary.") % {"lag": round(lag)},
    }
