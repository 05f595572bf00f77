"""Fixtures of the security tests: real daphne behind the real nginx of deploy/nginx.conf.template."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.db import connection

from tests.faults.support import Cluster


def database_url() -> str:
    db = connection.settings_dict
    return f"mysql://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


@pytest.fixture
def start_cluster(tmp_path):
    """start_cluster(daphnes=1, env=None) -> daphne (--proxy-headers) behind nginx on the test database and
    Redis; stopped afterwards."""
    started: list[Cluster] = []

    def start(*, daphnes: int = 1, env: dict[str, str] | None = None) -> Cluster:
        workdir = tmp_path / f"cluster-{len(started)}"
        workdir.mkdir()
        cluster = Cluster(workdir, database_url(), settings.REDIS_URL, daphnes=daphnes, env=env)
        started.append(cluster)
        cluster.start()
        return cluster

    yield start
    for cluster in started:
        cluster.stop()
