"""The integrator API's message list against the console's own, through the same server.

    python -m bench.run --only api --api-requests 3000 --api-concurrency 8

One daphne process of the production profile (pinned to the first core, as the relay's), one conversation
of `--api-messages` messages (customers' and the agent's, alternately) assigned to one agent, and two
endpoints that read its page of history:

* `console`: `GET /api/v1/agent/conversations/{id}/messages` with the agent's session (logged in with the
  login form, as the console is);
* `api`: `GET /api/rest/v1/conversations/{id}/messages?limit=N` with the same agent's read-only API key
  (`Authorization: Bearer`), N being the message count, so both answer the same messages.

Each endpoint gets a warm-up, then `--api-requests` requests from `--api-concurrency` callers at once
(closed loop: each caller sends its next request when the previous answer arrives), twice, alternately
(console, api, console, api), so both meet the same machine. One JSON line per endpoint: `requests_per_s`
(all its requests ÷ their wall time), `p50_ms`, `p99_ms` (one request's latency at the caller), `errors`
(answers other than 200 or with another number of messages), and a last line with the API's figures ÷
the console's.

The load generator never sets Django up: the scene is made by `python -m bench.database api-setup`
(bench/database.py) in a process of its own, and the generator speaks HTTP only.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import time

from bench.database import AGENT_PASSWORD
from bench.server import ROOT, django_call, prepare_database, server_env, start_server
from switchboard_client import agent_login


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("api")
    group.add_argument("--api-requests", type=int, default=3000, help="api: requests per endpoint and round")
    group.add_argument("--api-concurrency", type=int, default=8, help="api: callers at once")
    group.add_argument("--api-messages", type=int, default=50, help="api: messages in the conversation read")
    group.add_argument("--api-rounds", type=int, default=2, help="api: rounds, each endpoint once a round")


async def _load(base: str, path: str, headers: dict[str, str], *, requests: int, concurrency: int, expect: int):
    """`requests` GETs of `path` from `concurrency` callers: (latencies in s, wall s, errors)."""
    import httpx

    latencies: list[float] = []
    errors = 0
    left = requests
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits, timeout=30) as http:

        async def caller() -> None:
            nonlocal left, errors
            while left > 0:
                left -= 1
                start = time.perf_counter()
                response = await http.get(path)
                latencies.append(time.perf_counter() - start)
                if response.status_code != 200:
                    errors += 1
                    continue
                body = response.json()
                if len(body.get("results", body.get("messages", []))) != expect:
                    errors += 1

        began = time.perf_counter()
        await asyncio.gather(*(caller() for _ in range(concurrency)))
        wall = time.perf_counter() - began
    return latencies, wall, errors


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run(args: argparse.Namespace) -> list[dict]:
    messages = args.api_messages
    var_dir = ROOT / "var" / "bench-api"
    var_dir.mkdir(parents=True, exist_ok=True)
    env = server_env("production", var_dir)
    prepare_database("production", env, var_dir)
    scene = django_call("api-setup", env, str(messages))
    pin = bool(shutil.which("taskset")) and (os.cpu_count() or 1) > 1
    server = start_server(1, env, pin, var_dir)
    try:
        if pin:
            # The generator keeps the last core to itself, daphne the first.
            last = (os.cpu_count() or 1) - 1
            subprocess.run(["taskset", "-pc", str(last), str(os.getpid())], check=False, capture_output=True)
        base = f"http://127.0.0.1:{server.ports[0]}"
        cookie = asyncio.run(agent_login(base, scene["username"], AGENT_PASSWORD))
        conversation = scene["conversation"]
        templates = {
            "console": ("/api/v1/agent/conversations/{id}/messages", {"Cookie": cookie}),
            "api": (
                f"/api/rest/v1/conversations/{{id}}/messages?limit={messages}",
                {"Authorization": f"Bearer {scene['key']}"},
            ),
        }
        endpoints = {name: (path.format(id=conversation), headers) for name, (path, headers) in templates.items()}
        figures: dict[str, dict] = {name: {"latencies": [], "wall": 0.0, "errors": 0} for name in endpoints}
        for path, headers in endpoints.values():  # warm-up: connections, caches, imports
            asyncio.run(_load(base, path, headers, requests=200, concurrency=args.api_concurrency, expect=messages))
        for _ in range(args.api_rounds):
            for name, (path, headers) in endpoints.items():
                latencies, wall, errors = asyncio.run(
                    _load(
                        base,
                        path,
                        headers,
                        requests=args.api_requests,
                        concurrency=args.api_concurrency,
                        expect=messages,
                    )
                )
                figures[name]["latencies"] += latencies
                figures[name]["wall"] += wall
                figures[name]["errors"] += errors
    finally:
        server.stop()
    load = os.getloadavg()[0]
    results = []
    for name, (path, _) in templates.items():
        data = figures[name]
        results.append(
            {
                "name": f"api.messages.{name}",
                "path": path,
                "messages_per_answer": messages,
                "requests": len(data["latencies"]),
                "concurrency": args.api_concurrency,
                "requests_per_s": round(len(data["latencies"]) / data["wall"], 1),
                "p50_ms": round(statistics.median(data["latencies"]) * 1000, 2),
                "p99_ms": round(_percentile(data["latencies"], 0.99) * 1000, 2),
                "errors": data["errors"],
                "load_1min": round(load, 2),
            }
        )
    console, api = results
    results.append(
        {
            "name": "api.messages.ratio",
            "requests_per_s": round(api["requests_per_s"] / console["requests_per_s"], 3),
            "p99": round(api["p99_ms"] / console["p99_ms"], 3),
        }
    )
    return results
