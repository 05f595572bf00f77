"""Run the load benchmarks and print one JSON object per line.

    python -m bench.run                 # every benchmark
    python -m bench.run --only routing  # one (repeat --only for several)
    python -m bench.run --list

A benchmark is a function returning a list of result dicts, registered below by name as
"module:function"; add a line to BENCHMARKS to add one.
"""

from __future__ import annotations

import argparse
import json
import sys
from importlib import import_module

BENCHMARKS: dict[str, str] = {
    "routing": "bench.routing:run",
}


def benchmark_load(name: str):
    module, function = BENCHMARKS[name].split(":")
    return getattr(import_module(module), function)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Switchboard load benchmarks")
    parser.add_argument("--only", action="append", choices=sorted(BENCHMARKS), help="run only this benchmark")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    args = parser.parse_args(argv)
    if args.list:
        print("\n".join(sorted(BENCHMARKS)))
        return 0
    for name in BENCHMARKS:
        if args.only and name not in args.only:
            continue
        for result in benchmark_load(name)():
            print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
