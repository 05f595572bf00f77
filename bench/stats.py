"""The supervisor's statistics against the size of the history: the dashboard's snapshot, the queue.stats
tick and the /metrics gauges with a small history and with a large one, on the production profile's MySQL.

Two databases of the benchmark's own (`<name>_small` and `<name>_large`, default
switchboard_bench_<checkout>_stats_*, so two checkouts do not share them) are created, migrated and filled
by the Django side (bench/stats_db.py, run in a process of its own: this module never sets Django up):

* small: 10 past conversations with 100 messages;
* large: 100,000 past conversations with 1,000,000 messages (routing's offers and ledger with them), over
  the 100 days before today, inserted with INSERT ... SELECT in chunks (progress on stderr; a few minutes);

and both get the same traffic today (400 conversations, some waiting, some with an agent or the bot).
Then each operation runs `reps` times afresh (no cached figure) in the Django process:

* `snapshot`: `supervisor.stats.queue_stats_snapshot` for an admin (/ws/v1/supervisor/live/, the dashboard);
* `tick`: `supervisor.stats.queue_stats_frame` for a supervisor (/ws/v1/supervisor/'s queue.stats frame,
  sent every IM_QUEUE_STATS_INTERVAL_S);
* `metrics`: the /metrics gauges read at a scrape (switchboard.metrics.SHARED_STATE).

One JSON line per size: per operation `p50_ms`, `p99_ms` (wall clock), `client_cpu_ms` (this process's
CPU), `queries`, `rows_read` (the server's Handler_read_* counters for one run: rows and index entries it
read, a figure the machine's speed does not move), and `ratio` (this size's p50 and rows read ÷ the
small size's).

Environment: BENCH_STATS_DATABASE_URL (default mysql://root@127.0.0.1:3306/switchboard_bench_<8 hex
digits of the checkout's path>_stats, the two databases are named after it), BENCH_REDIS_URL (default
redis://127.0.0.1:6379/2 or the next free database, held as every benchmark holds its own: only the
snapshot's cache keys are written, nothing is flushed), BENCH_STATS_REPS (default 50), BENCH_STATS_LARGE (past
conversations of the large size, default 100000; ten messages each). `--stats-reuse` times the databases
a previous run filled (after migrating them), to compare two builds without filling again.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.server import BENCH_DB, PYTHON, ROOT, database_recreate, django_call, server_env

SMALL = (10, 100)
MESSAGES_PER_CONVERSATION = 10


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("stats")
    group.add_argument(
        "--stats-reuse", action="store_true", help="stats: time the databases a previous run filled, do not refill"
    )


def _env(name: str) -> dict[str, str]:
    env = server_env("production", Path(tempfile.gettempdir()) / "switchboard-bench-stats")
    base = os.environ.get("BENCH_STATS_DATABASE_URL", f"mysql://root@127.0.0.1:3306/{BENCH_DB}_stats")
    env["DATABASE_URL"] = f"{base}_{name}"
    return env


def _migrate(env: dict[str, str]) -> None:
    subprocess.run([PYTHON, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)


def run(args: argparse.Namespace) -> list[dict]:
    reps = int(os.environ.get("BENCH_STATS_REPS", "50"))
    large = int(os.environ.get("BENCH_STATS_LARGE", "100000"))
    sizes = {"small": SMALL, "large": (large, large * MESSAGES_PER_CONVERSATION)}
    reuse = getattr(args, "stats_reuse", False)
    envs = {name: _env(name) for name in sizes}
    fills: dict[str, dict] = {}
    for name, (conversations, messages) in sizes.items():
        env = envs[name]
        if not reuse:
            database_recreate(env["DATABASE_URL"])
        _migrate(env)
        if not reuse:
            print(f"stats: filling {name} ({conversations} conversations, {messages} messages)", file=sys.stderr)
            fills[name] = django_call(
                "stats-fill",
                env,
                str(conversations),
                str(messages),
                module="bench.stats_db",
                timeout=3600,
                progress=True,
            )
    # Time after both are filled, one size after the other, so both meet the same machine.
    timings = {
        name: django_call("stats-time", envs[name], str(reps), module="bench.stats_db", timeout=1800) for name in sizes
    }
    results = []
    for name, (conversations, messages) in sizes.items():
        line = {
            "name": "stats",
            "size": name,
            "history_conversations": conversations,
            "history_messages": messages,
            "reps": reps,
            **({"fill": fills[name]} if name in fills else {}),
        }
        for op, figures in timings[name].items():
            small = timings["small"][op]
            line[op] = {
                **figures,
                "ratio": {
                    "p50": round(figures["p50_ms"] / small["p50_ms"], 2) if small["p50_ms"] else None,
                    "rows_read": round(figures["rows_read"] / small["rows_read"], 2) if small["rows_read"] else None,
                },
            }
        results.append(line)
    return results
