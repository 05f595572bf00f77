"""Run the load benchmarks and print one JSON object per line.

    python -m bench.run                              # every benchmark (make bench)
    python -m bench.run --only routing               # one (repeat --only for several)
    python -m bench.run --only relay --ramp          # options of a benchmark follow its name's group
    python -m bench.run --list

A benchmark is a module with `run(args) -> list[dict]`, and optionally `add_arguments(parser)` for its
own options; register it below by name.
"""

from __future__ import annotations

import argparse
import json
import sys
from importlib import import_module

BENCHMARKS: dict[str, str] = {
    "relay": "bench.relay",
    "idle": "bench.idle",
    "routing": "bench.routing",
    "stats": "bench.stats",
    "api": "bench.api_messages",
    "search": "bench.search",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Switchboard load benchmarks")
    parser.add_argument("--only", action="append", choices=sorted(BENCHMARKS), help="run only this benchmark")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    modules = {name: import_module(path) for name, path in BENCHMARKS.items()}
    for module in modules.values():
        if hasattr(module, "add_arguments"):
            module.add_arguments(parser)
    args = parser.parse_args(argv)
    if args.list:
        print("\n".join(sorted(BENCHMARKS)))
        return 0
    for name, module in modules.items():
        if args.only and name not in args.only:
            continue
        results = module.run(args)
        for result in results:
            print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
