"""The server under test: its environment for each profile, a fresh database, daphne processes, and the
Django side of a benchmark (bench/database.py) run in a process of its own on the server's database.

The load generator never sets Django up: it speaks to the server only through the public protocol
(switchboard_client), as the widget and the console do.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from tests import isolation

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
# One database per checkout, so benchmarks run from two checkouts at once do not share (or drop) one.
BENCH_DB = "switchboard_bench_" + hashlib.sha1(str(ROOT).encode()).hexdigest()[:8]
CLAIM = isolation.CLAIM  # the name test runs hold their Redis database with
_HELD: list = []  # the connections holding this benchmark's Redis databases, open for the process's life


def claim_redis(url: str) -> str:
    """A Redis database for this benchmark on `url`'s server, held the way test runs hold theirs (a
    connection named sb-test-run:<db>:<run>), so a test run never takes it and flushes it under the
    benchmark, and the benchmark never flushes a test run's. `url`'s own database when free, else the
    next free one."""
    import redis

    def with_db(db: int) -> str:
        parts = urlsplit(url)
        return urlunsplit((parts.scheme, parts.netloc, f"/{db}", parts.query, parts.fragment))

    client = redis.Redis.from_url(with_db(0), single_connection_client=True, socket_connect_timeout=5)
    me = client.client_id()
    first = int(urlsplit(url).path.strip("/") or 0)
    count = int(client.config_get("databases").get("databases", 16))
    with isolation.claiming(client, f"bench{os.getpid()}"):
        for db in [first, *(d for d in range(1, count) if d != first)]:
            client.client_setname(f"{CLAIM}:{db}:bench{os.getpid()}")
            if not isolation.held_by_another(client, db, me):
                _HELD.append(client)
                return with_db(db)
    client.close()
    raise RuntimeError(f"No free Redis database on {url}: every one is held by a test run or a benchmark.")


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
        env["REDIS_URL"] = claim_redis(os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/2"))
        # Routing decisions and bot hand-offs run in the request; the benchmark has no Celery worker.
        env["CELERY_TASK_ALWAYS_EAGER"] = "1"
        env["CHANNEL_LAYER_BACKEND"] = layer
    return env


def django_call(
    command: str,
    env: dict[str, str],
    *args: str,
    stdin: str | None = None,
    module: str = "bench.database",
    timeout: float = 600,
    progress: bool = False,
):
    """Run `python -m <module> <command> <args>` (bench.database by default) with the server's environment;
    its JSON answer. With `progress`, its stderr goes to ours as it runs (a long job's progress)."""
    result = subprocess.run(
        [PYTHON, "-m", module, command, *args],
        cwd=ROOT,
        env=env,
        input=stdin,
        stdout=subprocess.PIPE,
        stderr=None if progress else subprocess.PIPE,
        text=True,
        timeout=timeout,
    )
    if result.returncode != 0:
        raise RuntimeError((result.stderr or "")[-3000:] or f"{module} {command} failed ({result.returncode})")
    return json.loads(result.stdout.strip().splitlines()[-1])


def database_recreate(url: str) -> None:
    """Drop and create the MySQL database `url` names (the local server, as root)."""
    name = url.rsplit("/", 1)[1]
    subprocess.run(
        [
            "mariadb",
            "--protocol=tcp",
            "-h127.0.0.1",
            "-uroot",
            "-e",
            f"DROP DATABASE IF EXISTS {name}; CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci",
        ],
        check=True,
    )


def prepare_database(profile: str, env: dict[str, str], var_dir: Path) -> None:
    if profile == "production":
        database_recreate(env["DATABASE_URL"])
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
