"""The server under test: its environment for each profile, a fresh database, daphne processes, and the
Django side of a benchmark (bench/database.py) run in a process of its own on the server's database.

The load generator never sets Django up: it speaks to the server only through the public protocol
(switchboard_client), as the widget and the console do.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
BENCH_DB = "switchboard_bench"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_env(profile: str, var_dir: Path, layer: str = "switchboard") -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k
        not in {"DATABASE_URL", "REDIS_URL", "CELERY_TASK_ALWAYS_EAGER", "ROUTING_BACKEND", "CHANNEL_LAYER_BACKEND"}
    }
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "SECRET_KEY": "bench-secret-key-0123456789-0123456789-abcdef",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "DEBUG": "0",
            "STATIC_MANIFEST": "0",
            "SECURE_COOKIES": "0",
            "SECURE_SSL_REDIRECT": "0",
            "SWITCHBOARD_VAR_DIR": str(var_dir),
            "LOG_LEVEL": "WARNING",
            "INPROCESS_TIMERS": "0",
            # Every simulated customer comes from 127.0.0.1.
            "IM_WIDGET_SESSIONS_PER_MINUTE": "100000",
        }
    )
    if profile == "production":
        env["DATABASE_URL"] = os.environ.get("BENCH_DATABASE_URL", f"mysql://root@127.0.0.1:3306/{BENCH_DB}")
        env["REDIS_URL"] = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/2")
        # Routing decisions and bot hand-offs run in the request; the benchmark has no Celery worker.
        env["CELERY_TASK_ALWAYS_EAGER"] = "1"
        env["CHANNEL_LAYER_BACKEND"] = layer
    return env


def django_call(command: str, env: dict[str, str], *args: str, stdin: str | None = None):
    """Run `python -m bench.database <command> <args>` with the server's environment; its JSON answer."""
    result = subprocess.run(
        [PYTHON, "-m", "bench.database", command, *args],
        cwd=ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if result.returncode != 0:
        raise RuntimeError(result.stderr[-3000:])
    return json.loads(result.stdout.strip().splitlines()[-1])


def prepare_database(profile: str, env: dict[str, str], var_dir: Path) -> None:
    if profile == "production":
        name = env["DATABASE_URL"].rsplit("/", 1)[1]
        subprocess.run(
            [
                "mariadb",
                "--protocol=tcp",
                "-h127.0.0.1",
                "-uroot",
                "-e",
                f"DROP DATABASE IF EXISTS {name}; "
                f"CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci",
            ],
            check=True,
        )
        import redis

        redis.Redis.from_url(env["REDIS_URL"]).flushdb()
    else:
        shutil.rmtree(var_dir, ignore_errors=True)
    var_dir.mkdir(parents=True, exist_ok=True)
    subprocess.run([PYTHON, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)


@dataclass
class Server:
    ports: list[int]
    procs: list[subprocess.Popen] = field(default_factory=list)

    def stop(self) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


def start_server(n: int, env: dict[str, str], pin: bool, log_dir: Path, traced: bool = False) -> Server:
    """`n` daphne processes; `traced`: under bench/traced_daphne.py (tracemalloc, snapshots on SIGUSR1)."""
    server = Server(ports=[free_port() for _ in range(n)])
    cores = os.cpu_count() or 1
    daphne = [PYTHON, "-m", "bench.traced_daphne"] if traced else [str(Path(PYTHON).parent / "daphne")]
    for i, port in enumerate(server.ports):
        cmd = [*daphne, "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"]
        if pin and shutil.which("taskset") and cores > 1:
            # Daphne processes share the first cores; the load generator keeps the last one to itself.
            cmd = ["taskset", "-c", str(i % max(1, cores - 1)), *cmd]
        log = open(log_dir / f"daphne-{port}.log", "w")  # noqa: SIM115 - kept open for the process's life
        server.procs.append(subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT))
    deadline = time.monotonic() + 60
    for port in server.ports:
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
            if time.monotonic() > deadline:
                server.stop()
                raise RuntimeError(f"daphne on {port} did not start; see {log_dir}")
            time.sleep(0.2)
    return server
