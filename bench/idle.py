"""Idle connections: how much one daphne process spends holding many authenticated widget sockets.

    python -m bench.run --only idle --idle-sockets 5000

Opens the sockets (each with its own widget session, authenticated: a visitor who opened the widget and
has not written yet), then measures the process's resident memory and its CPU use over a quiet window
while they stay open.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time

from bench.server import ROOT, django_call, prepare_database, server_env, start_server
from switchboard_client import Customer, close_all


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("idle")
    group.add_argument("--idle-sockets", type=int, default=5000)
    group.add_argument("--idle-window", type=float, default=10.0, help="seconds of quiet measured")


def _process_stats(pid: int) -> tuple[int, float]:
    """(resident bytes, CPU seconds used so far) of a process, from /proc."""
    with open(f"/proc/{pid}/status") as status:
        rss_kb = next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return rss_kb * 1024, (int(fields[11]) + int(fields[12])) / ticks


async def _hold(port: int, tokens: list[str], window: float, pid: int) -> dict:
    base = f"http://127.0.0.1:{port}"
    sockets: list[Customer] = []

    async def open_one(token: str) -> Customer:
        customer = Customer(base, token)
        customer.start()
        await asyncio.wait_for(customer.ready.wait(), 60)  # `ready`: the socket is authenticated
        return customer

    rss_before, _ = _process_stats(pid)
    for start in range(0, len(tokens), 100):
        sockets += await asyncio.gather(*(open_one(t) for t in tokens[start : start + 100]))
    await asyncio.sleep(2)
    rss_open, cpu_start = _process_stats(pid)
    began = time.monotonic()
    await asyncio.sleep(window)
    rss_after, cpu_end = _process_stats(pid)
    elapsed = time.monotonic() - began
    await close_all(sockets)
    return {
        "sockets": len(sockets),
        "rss_mb_before": round(rss_before / 2**20, 1),
        "rss_mb_open": round(max(rss_open, rss_after) / 2**20, 1),
        "kb_per_socket": round((max(rss_open, rss_after) - rss_before) / 1024 / max(1, len(sockets)), 1),
        "idle_cpu_percent": round(100 * (cpu_end - cpu_start) / elapsed, 2),
    }


def run(args) -> list[dict]:
    var_dir = ROOT / "var" / "bench"
    var_dir.mkdir(parents=True, exist_ok=True)
    env = server_env("production", var_dir)
    prepare_database("production", env, var_dir)
    tokens = django_call("idle-sessions", env, str(args.idle_sockets))
    server = start_server(1, env, pin=False, log_dir=var_dir)
    try:
        result = asyncio.run(_hold(server.ports[0], tokens, args.idle_window, server.procs[0].pid))
    finally:
        server.stop()
    return [{"name": "idle", "profile": "production", "procs": 1, **result}]
