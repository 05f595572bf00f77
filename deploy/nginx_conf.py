"""Render deploy/nginx.conf.template for a set of daphne processes.

    python deploy/nginx_conf.py RUN_DIR LISTEN_PORT STATIC_ROOT UPSTREAM [UPSTREAM ...]

UPSTREAM is host:port of a daphne process. Used by scripts/cluster.sh and by the fault tests.
"""

from __future__ import annotations

import sys
from pathlib import Path

TEMPLATE = Path(__file__).with_name("nginx.conf.template")


def render(*, run_dir: str, listen_port: int, static_root: str, upstreams: list[str]) -> str:
    servers = "\n".join(f"        server {u} max_fails=1 fail_timeout=2s;" for u in upstreams)
    return (
        TEMPLATE.read_text()
        .replace("@RUN@", run_dir)
        .replace("@LISTEN@", f"127.0.0.1:{listen_port}")
        .replace("@STATIC_ROOT@", static_root)
        .replace("@UPSTREAMS@", servers)
    )


if __name__ == "__main__":
    run_dir, port, static_root, *upstreams = sys.argv[1:]
    conf = Path(run_dir) / "nginx.conf"
    conf.write_text(render(run_dir=run_dir, listen_port=int(port), static_root=static_root, upstreams=upstreams))
    print(conf)
