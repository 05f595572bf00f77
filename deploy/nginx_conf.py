"""Render deploy/nginx.conf.template for a set of daphne processes.

    python deploy/nginx_conf.py RUN_DIR LISTEN_PORT STATIC_ROOT UPSTREAM [UPSTREAM ...]

UPSTREAM is host:port of a daphne process. Used by scripts/cluster.sh and by the fault tests.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

TEMPLATE = Path(__file__).with_name("nginx.conf.template")
sys.path.insert(0, str(TEMPLATE.parent.parent))

from config.body_limits import DEFAULT_BODY_MAX, DEFAULT_MEDIA_MAX, DEFAULT_WEBHOOK_MAX, UPLOAD_ENVELOPE  # noqa: E402


def body_caps(environ: dict[str, str] | None = None) -> dict[str, int]:
    """The body caps of config/body_limits.py, from the same environment variables as the settings."""
    environ = os.environ if environ is None else environ
    return {
        "@BODY_MAX@": int(environ.get("REQUEST_BODY_MAX") or DEFAULT_BODY_MAX),
        "@WEBHOOK_MAX@": int(environ.get("REQUEST_BODY_MAX_WEBHOOK") or DEFAULT_WEBHOOK_MAX),
        "@UPLOAD_MAX@": int(environ.get("MEDIA_MAX_UPLOAD_SIZE") or DEFAULT_MEDIA_MAX) + UPLOAD_ENVELOPE,
    }


def render(*, run_dir: str, listen_port: int, static_root: str, upstreams: list[str]) -> str:
    servers = "\n".join(f"        server {u} max_fails=1 fail_timeout=2s;" for u in upstreams)
    text = (
        TEMPLATE.read_text()
        .replace("@RUN@", run_dir)
        .replace("@LISTEN@", f"127.0.0.1:{listen_port}")
        .replace("@STATIC_ROOT@", static_root)
        .replace("@UPSTREAMS@", servers)
    )
    for name, value in body_caps().items():
        text = text.replace(name, str(value))
    return text


if __name__ == "__main__":
    run_dir, port, static_root, *upstreams = sys.argv[1:]
    conf = Path(run_dir) / "nginx.conf"
    conf.write_text(render(run_dir=run_dir, listen_port=int(port), static_root=static_root, upstreams=upstreams))
    print(conf)
