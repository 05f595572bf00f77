"""Idle connections: how much one daphne process spends holding many authenticated widget sockets.

    python -m bench.run --only idle --idle-sockets 10000

Opens the sockets (each with its own widget session, authenticated: a visitor who opened the widget and
has not written yet), then measures the process's resident memory and its CPU use over a quiet window
while they stay open.

File descriptors: every socket is one descriptor in this process and one in daphne's. The benchmark
raises its soft RLIMIT_NOFILE to the hard limit before it starts the server, which inherits it, and
refuses a count the hard limit cannot hold. Ports: the sockets come from several loopback addresses
(127.0.0.1, 127.0.0.2, ...) when one address's ephemeral port range would be more than half used
(`--idle-source-hosts` sets the number).

`--idle-trace DIR` runs daphne under tracemalloc (bench/traced_daphne.py), takes a snapshot before the
sockets open and one after, and prints what the sockets added, by source line, per socket (to stderr
and DIR/diff.txt). A traced run's resident figure is not the benchmark's (tracemalloc's own memory).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import resource
import signal
import sys
import time
import tracemalloc
from pathlib import Path

from bench.server import ROOT, django_call, prepare_database, server_env, start_server
from switchboard_client import Customer, close_all


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("idle")
    group.add_argument("--idle-sockets", type=int, default=10000)
    group.add_argument("--idle-window", type=float, default=10.0, help="seconds of quiet measured")
    group.add_argument(
        "--idle-source-hosts", type=int, default=0, help="loopback addresses to connect from (0: as needed)"
    )
    group.add_argument("--idle-trace", type=Path, default=None, help="directory for a tracemalloc profile of daphne")


def raise_nofile(needed: int) -> int:
    """Raise this process's soft descriptor limit to the hard one (processes started later inherit it);
    refuse when even the hard limit is below `needed`. Returns the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < needed:
        raise SystemExit(
            f"idle: {needed} file descriptors needed, the hard limit is {hard} (raise it: ulimit -Hn, limits.conf)"
        )
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def source_hosts(sockets: int, wanted: int) -> list[str]:
    """Loopback addresses to connect from: `wanted`, or enough that each uses at most half of the
    ephemeral port range (other programs use ports too)."""
    if wanted <= 0:
        try:
            low, high = map(int, Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
        except OSError:
            low, high = 32768, 60999
        wanted = max(1, math.ceil(sockets / ((high - low + 1) // 2)))
    return [f"127.0.0.{n}" for n in range(1, wanted + 1)]


def _process_stats(pid: int) -> tuple[int, float]:
    """(resident bytes, CPU seconds used so far) of a process, from /proc."""
    with open(f"/proc/{pid}/status") as status:
        rss_kb = next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return rss_kb * 1024, (int(fields[11]) + int(fields[12])) / ticks


async def _snapshot(pid: int, trace: Path, n: int) -> Path:
    """Have the traced daphne write snapshot n; its path once it is whole."""
    path = trace / f"snapshot-{n}.pickle"
    os.kill(pid, signal.SIGUSR1)
    deadline = time.monotonic() + 300
    while not path.exists():
        if time.monotonic() > deadline:
            raise RuntimeError(f"daphne wrote no {path}")
        await asyncio.sleep(0.5)
    return path


def trace_report(before: Path, after: Path, sockets: int, top: int = 30) -> str:
    """What the sockets added between two snapshots, by source line, largest first, per socket."""
    skip = [tracemalloc.Filter(False, tracemalloc.__file__), tracemalloc.Filter(False, "<frozen importlib._bootstrap>")]
    old = tracemalloc.Snapshot.load(str(before)).filter_traces(skip)
    new = tracemalloc.Snapshot.load(str(after)).filter_traces(skip)
    stats = new.compare_to(old, "lineno")
    total = sum(s.size_diff for s in stats)
    lines = [f"traced growth {total / 2**20:.1f} MB for {sockets} sockets: {total / max(1, sockets):.0f} B a socket"]
    for stat in stats[:top]:
        frame = stat.traceback[0]
        lines.append(
            f"{stat.size_diff / max(1, sockets):8.0f} B/socket {stat.count_diff / max(1, sockets):6.2f} blocks/socket"
            f"  {frame.filename}:{frame.lineno}"
        )
    return "\n".join(lines)


async def _hold(port: int, tokens: list[str], args, pid: int) -> dict:
    base = f"http://127.0.0.1:{port}"
    sockets: list[Customer] = []
    hosts = source_hosts(len(tokens), args.idle_source_hosts)

    async def open_one(n: int, token: str) -> Customer:
        customer = Customer(base, token)
        customer.local_host = hosts[n % len(hosts)] if len(hosts) > 1 else None
        customer.start()
        await asyncio.wait_for(customer.ready.wait(), 60)  # `ready`: the socket is authenticated
        return customer

    trace = args.idle_trace
    if trace:
        await asyncio.sleep(2)
        before = await _snapshot(pid, trace, 0)
    rss_before, _ = _process_stats(pid)
    began = time.monotonic()
    for start in range(0, len(tokens), 100):
        sockets += await asyncio.gather(*(open_one(start + i, t) for i, t in enumerate(tokens[start : start + 100])))
    open_s = time.monotonic() - began
    await asyncio.sleep(2)
    if trace:
        report = trace_report(before, await _snapshot(pid, trace, 1), len(sockets))
        (trace / "diff.txt").write_text(report + "\n")
        print(report, file=sys.stderr, flush=True)
    rss_open, cpu_start = _process_stats(pid)
    began = time.monotonic()
    await asyncio.sleep(args.idle_window)
    rss_after, cpu_end = _process_stats(pid)
    elapsed = time.monotonic() - began
    await close_all(sockets)
    return {
        "sockets": len(sockets),
        "source_hosts": len(hosts),
        "open_s": round(open_s, 1),
        "rss_mb_before": round(rss_before / 2**20, 1),
        "rss_mb_open": round(max(rss_open, rss_after) / 2**20, 1),
        "kb_per_socket": round((max(rss_open, rss_after) - rss_before) / 1024 / max(1, len(sockets)), 1),
        "idle_cpu_percent": round(100 * (cpu_end - cpu_start) / elapsed, 2),
        **({"traced": True} if trace else {}),
    }


def run(args) -> list[dict]:
    var_dir = ROOT / "var" / "bench"
    var_dir.mkdir(parents=True, exist_ok=True)
    nofile = raise_nofile(args.idle_sockets + 500)  # the server inherits it; 500 for everything else
    env = server_env("production", var_dir)
    if args.idle_trace:
        args.idle_trace.mkdir(parents=True, exist_ok=True)
        for old in args.idle_trace.glob("snapshot-*.pickle"):
            old.unlink()
        env["BENCH_TRACE_DIR"] = str(args.idle_trace.resolve())
    prepare_database("production", env, var_dir)
    began = time.monotonic()
    tokens = django_call("idle-sessions", env, str(args.idle_sockets))
    sessions_s = time.monotonic() - began
    server = start_server(1, env, pin=False, log_dir=var_dir, traced=bool(args.idle_trace))
    try:
        result = asyncio.run(_hold(server.ports[0], tokens, args, server.procs[0].pid))
        result = {"nofile": nofile, "sessions_s": round(sessions_s, 1), **result}
    finally:
        server.stop()
    return [{"name": "idle", "profile": "production", "procs": 1, **result}]
