"""The message search against a large history: the console's search (`conversations_search` through
`search_request_parse`, what /api/v1/agent/search runs) on the production profile's MySQL, with
1,000,000 messages in 100,000 conversations.

One database of the benchmark's own (default switchboard_bench_<checkout>_search, so two checkouts do not
share it) is created, migrated and filled by the Django side (bench/search_db.py, run in a process of its
own: this module never sets Django up): the statistics benchmark's scene (5 queues, 20 agents, a
supervisor's team of 3 queues) and history, with messages whose texts are 50,000 generated English,
Chinese and mixed texts (Zipf-distributed words), and their index rows as the project's tokeniser writes
them, inserted with INSERT ... SELECT in chunks (progress on stderr; a few minutes).

Then every case (an admin, an agent, a supervisor; an English common word, a rare one, two words, a
Chinese word of 2 and of 4 characters, with and without filters) runs `reps` times, and one JSON line
says per case `p50_ms`, `p95_ms`, `p99_ms` (wall clock), `client_cpu_ms`, `queries`, `rows_read` (the
server's Handler_read_* counters for one run), how many conversations the page had and whether it has a
next one, and the worst p95 of all (`p95_max_ms`; the target is under 200 ms).

Environment: BENCH_SEARCH_DATABASE_URL (default mysql://root@127.0.0.1:3306/switchboard_bench_<8 hex
digits of the checkout's path>_search), BENCH_SEARCH_REPS (default 40), BENCH_SEARCH_CONVERSATIONS
(default 100000), BENCH_SEARCH_MESSAGES (default 1000000). `--search-reuse` times the database a previous
run filled (after migrating it), to compare two builds without filling again.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.server import BENCH_DB, PYTHON, ROOT, database_recreate, django_call, server_env


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("search")
    group.add_argument(
        "--search-reuse", action="store_true", help="search: time the database a previous run filled, do not refill"
    )


def _env() -> dict[str, str]:
    env = server_env("production", Path(tempfile.gettempdir()) / "switchboard-bench-search")
    env["DATABASE_URL"] = os.environ.get("BENCH_SEARCH_DATABASE_URL", f"mysql://root@127.0.0.1:3306/{BENCH_DB}_search")
    return env


def run(args: argparse.Namespace) -> list[dict]:
    reps = int(os.environ.get("BENCH_SEARCH_REPS", "40"))
    conversations = int(os.environ.get("BENCH_SEARCH_CONVERSATIONS", "100000"))
    messages = int(os.environ.get("BENCH_SEARCH_MESSAGES", "1000000"))
    reuse = getattr(args, "search_reuse", False)
    env = _env()
    if not reuse:
        database_recreate(env["DATABASE_URL"])
    subprocess.run([PYTHON, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)
    fill = None
    if not reuse:
        print(f"search: filling ({conversations} conversations, {messages} messages)", file=sys.stderr)
        fill = django_call(
            "search-fill",
            env,
            str(conversations),
            str(messages),
            module="bench.search_db",
            timeout=3600,
            progress=True,
        )
    cases = django_call("search-time", env, str(reps), module="bench.search_db", timeout=1800)
    return [
        {
            "name": "search",
            "conversations": conversations,
            "messages": messages,
            "reps": reps,
            **({"fill": fill} if fill else {}),
            "p95_max_ms": max(case["p95_ms"] for case in cases.values()),
            "cases": cases,
        }
    ]
