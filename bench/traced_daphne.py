"""daphne with tracemalloc on, for the idle benchmark's memory profile (`--idle-trace DIR`); never used in
production.

    python -m bench.traced_daphne -b 127.0.0.1 -p 8000 config.asgi:application

Every SIGUSR1 writes a snapshot to `$BENCH_TRACE_DIR/snapshot-<n>.pickle` (n = 0, 1, ...); the benchmark
takes one before it opens its sockets and one after, and compares them (bench/idle.py). Frames kept per
allocation: `BENCH_TRACE_FRAMES` (default 1). tracemalloc slows the process and adds its own memory, so
a traced run's resident figure is not the benchmark's.
"""

from __future__ import annotations

import itertools
import os
import signal
import tracemalloc
from pathlib import Path

SNAPSHOT_SIGNAL = signal.SIGUSR1


def main() -> None:
    out = Path(os.environ["BENCH_TRACE_DIR"])
    out.mkdir(parents=True, exist_ok=True)
    counter = itertools.count()
    tracemalloc.start(int(os.environ.get("BENCH_TRACE_FRAMES", "1")))

    def dump(signum, frame) -> None:
        n = next(counter)
        path = out / f"snapshot-{n}.pickle"
        tracemalloc.take_snapshot().dump(str(path) + ".part")
        os.replace(str(path) + ".part", path)  # the benchmark waits for the whole file

    signal.signal(SNAPSHOT_SIGNAL, dump)
    from daphne.cli import CommandLineInterface

    CommandLineInterface.entrypoint()


if __name__ == "__main__":
    main()
