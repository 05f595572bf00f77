"""Fixtures of the security tests: real daphne behind the real nginx of deploy/nginx.conf.template."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from tests.faults.support import Cluster


def database_url() -> str:
    db = connection.settings_dict
    return f"mysql://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


@pytest.fixture
def start_cluster():
    """start_cluster(daphnes=1, env=None) -> daphne (--proxy-headers) behind nginx on the test database and
    Redis; stopped afterwards."""
    started: list[Cluster] = []
    workdirs: list[Path] = []

    def start(*, daphnes: int = 1, env: dict[str, str] | None = None) -> Cluster:
        # nginx's workers (an unprivileged user) write request bodies under the work directory, so it
        # must be reachable for them: pytest's own temporary folders are private to their owner.
        workdir = Path(tempfile.mkdtemp(prefix="sb-security-"))
        workdir.chmod(0o755)
        workdirs.append(workdir)
        cluster = Cluster(workdir, database_url(), settings.REDIS_URL, daphnes=daphnes, env=env)
        started.append(cluster)
        cluster.start()
        return cluster

    yield start
    for cluster in started:
        cluster.stop()
    for workdir in workdirs:
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def daphne_process(tmp_path):
    """daphne_process(env=None) -> (base_url, Popen): one daphne on the test database and Redis, as
    deployed (--proxy-headers), without nginx; stopped afterwards."""
    import os
    import subprocess

    from tests.faults.support import BIN, ROOT, free_port, wait_port

    started: list[subprocess.Popen] = []

    def start(env: dict[str, str] | None = None):
        port = free_port()
        full = {
            **os.environ,
            "DATABASE_URL": database_url(),
            "REDIS_URL": settings.REDIS_URL,
            "LOG_LEVEL": "WARNING",
            **(env or {}),
        }
        log = open(tmp_path / f"daphne-{port}.log", "w")  # noqa: SIM115 - lives as long as the process
        args = [str(BIN / "daphne"), "--proxy-headers", "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"]
        proc = subprocess.Popen(args, cwd=ROOT, env=full, stdout=log, stderr=subprocess.STDOUT)
        started.append(proc)
        wait_port(port)
        return f"http://127.0.0.1:{port}", proc

    yield start
    for proc in started:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
