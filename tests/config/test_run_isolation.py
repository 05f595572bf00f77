"""Two pytest runs at once on one machine, on the same MySQL server and the same Redis server, take names of
their own (tests/isolation.py): both pass tests that collide when names are shared
(tests/config/isolation_probe.py), and neither leaves anything behind."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import redis
from django.conf import settings
from django.db import connection

from tests import isolation

ROOT = Path(__file__).resolve().parents[2]
PROBE = "tests/config/isolation_probe.py"


def _databases(django_db_blocker) -> set[str]:
    with django_db_blocker.unblock(), connection._nodb_cursor() as cursor:
        cursor.execute("SHOW DATABASES")
        return {row[0] for row in cursor.fetchall()}


def _execute(django_db_blocker, sql: str) -> None:
    with django_db_blocker.unblock(), connection._nodb_cursor() as cursor:
        cursor.execute(sql)


def _run_env(probe_dir: Path, name: str, runs: list[str]) -> dict[str, str]:
    # Neither run is given names: each derives its own, on this run's MySQL and Redis servers.
    env = {k: v for k, v in os.environ.items() if k not in {"TEST_DATABASE_URL", "TEST_REDIS_URL"}}
    env.pop("PYTEST_XDIST_WORKER", None)
    env.update(
        {
            "REDIS_URL": settings.REDIS_URL,
            "ISOLATION_PROBE_DIR": str(probe_dir),
            "ISOLATION_PROBE_NAME": name,
            "ISOLATION_PROBE_RUNS": ",".join(runs),
        }
    )
    return env


@pytest.mark.slow
@pytest.mark.skipif(not settings.REDIS_URL, reason="the production profile: MySQL and Redis")
def test_two_runs_at_once_use_databases_and_redis_of_their_own(tmp_path, django_db_blocker):
    base = urlsplit(os.environ["DATABASE_URL"]).path.strip("/")
    now = time.time()
    # A database a killed run left two days ago is dropped; one of a run that started an hour ago is not.
    dead = f"test_{base}_{int(now - 2 * 86400):08x}dead"
    recent = f"test_{base}_{int(now - 3600):08x}0001"
    for name in (dead, recent):
        _execute(django_db_blocker, f"CREATE DATABASE IF NOT EXISTS `{name}`")
    runs = ["a", "b"]
    try:
        command = [sys.executable, "-m", "pytest", "-o", "pythonpath=.", "-p", "tests.isolation"]
        command += [PROBE, "-q", "-x", "--no-migrations"]
        procs = {
            name: subprocess.Popen(
                command,
                cwd=ROOT,
                env=_run_env(tmp_path, name, runs),
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            for name in runs
        }
        outputs = {name: proc.communicate(timeout=600)[0] for name, proc in procs.items()}
        failed = [name for name, proc in procs.items() if proc.returncode != 0]
        assert not failed, "\n".join(f"--- run {name}:\n{outputs[name][-5000:]}" for name in runs)

        reports = {name: json.loads((tmp_path / f"{name}.json").read_text()) for name in runs}
        a, b = reports["a"], reports["b"]
        assert a["database"] != b["database"]
        for report in (a, b):
            assert re.fullmatch(rf"test_{re.escape(base)}_[0-9a-f]{{12}}", report["database"])
            assert report["database"] != connection.settings_dict["NAME"]
        mine = urlsplit(settings.REDIS_URL)
        theirs = {name: urlsplit(report["redis_url"]) for name, report in reports.items()}
        assert {url.netloc for url in theirs.values()} == {mine.netloc}  # the same server...
        assert len({url.path for url in [mine, *theirs.values()]}) == 3  # ...three databases
        assert len({a["prefix"], b["prefix"], settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"]}) == 3
        # What a process started with the run's environment uses: the run's names.
        for report in (a, b):
            child = report["child"]
            assert child["redis_url"] == child["broker"] == child["cache"] == child["layer"] == report["redis_url"]
            assert child["prefix"] == report["prefix"]

        # Nothing left: the test databases dropped, the Redis databases empty and let go.
        databases = _databases(django_db_blocker)
        assert a["database"] not in databases and b["database"] not in databases
        assert dead not in databases and recent in databases
        for report in (a, b):
            store = redis.Redis.from_url(report["redis_url"])
            assert store.dbsize() == 0
            db = isolation.db_of(report["redis_url"])
            assert not [c for c in store.client_list() if c["name"].startswith(f"{isolation.CLAIM}:{db}:")]
            store.close()
    finally:
        for name in (dead, recent):
            _execute(django_db_blocker, f"DROP DATABASE IF EXISTS `{name}`")


def test_only_derived_databases_older_than_a_day_are_those_of_dead_runs():
    now = 1_800_000_000
    old, young = f"{now - 86400 - 60:08x}", f"{now - 3600:08x}"
    names = [
        f"test_switchboard_{old}ab12",
        f"test_switchboard_{old}ab12_gw3",
        f"test_switchboard_{young}ab12",
        "test_switchboard",
        f"test_switchboard_bench_{old}ab12",
        f"test_other_{old}ab12",
        f"switchboard_{old}ab12",
    ]
    assert isolation.dead_run_databases(names, "switchboard", now=now) == names[:2]


def _release(client, url: str) -> None:
    store = redis.Redis.from_url(url)
    store.flushdb()
    store.close()
    client.close()


@pytest.mark.skipif(not settings.REDIS_URL, reason="the production profile: MySQL and Redis")
def test_a_redis_database_a_dead_run_left_is_emptied_and_taken_again():
    client, url = isolation.claim_redis(settings.REDIS_URL, "0000000dead1", given=False)
    assert url != settings.REDIS_URL  # this run holds its own
    store = redis.Redis.from_url(url)
    store.set("rt:q:1", "what the dead run wrote")
    client.close()  # the run is killed: its hold ends, its keys stay
    again, url_again = isolation.claim_redis(settings.REDIS_URL, "0000000a11e2", given=False)
    try:
        assert url_again == url
        assert store.get("rt:q:1") is None and store.get(isolation.MARKER) == b"0000000a11e2"
    finally:
        store.close()
        _release(again, url_again)


@pytest.mark.skipif(not settings.REDIS_URL, reason="the production profile: MySQL and Redis")
def test_a_redis_database_with_someone_elses_data_is_never_touched():
    client, url = isolation.claim_redis(settings.REDIS_URL, "0000000c0de1", given=False)
    store = redis.Redis.from_url(url)
    store.delete(isolation.MARKER)
    store.set("cluster:key", "kept")  # as `make cluster` would have it: no test run's mark
    client.close()
    other, other_url = isolation.claim_redis(settings.REDIS_URL, "0000000c0de2", given=False)
    try:
        assert other_url != url
        assert store.get("cluster:key") == b"kept"
    finally:
        _release(other, other_url)
        store.flushdb()
        store.close()


@pytest.mark.skipif(
    isolation.RUN is None or isolation.RUN.claim is None, reason="runs with tests/isolation.py (tests/test.env)"
)
def test_a_run_given_the_redis_database_another_live_run_holds_refuses_to_start():
    with pytest.raises(pytest.UsageError, match="held by another test run"):
        isolation.claim_redis(settings.REDIS_URL, "0000000b0b01", given=True)
    # ...and a run deriving its own passes it by.
    client, url = isolation.claim_redis(settings.REDIS_URL, "0000000b0b02", given=False)
    try:
        assert url != settings.REDIS_URL
    finally:
        _release(client, url)


@pytest.mark.skipif(not settings.REDIS_URL, reason="the production profile: MySQL and Redis")
def test_a_run_that_names_a_database_after_another_never_takes_it_whatever_its_connection_id(monkeypatch):
    # Run b connected first (a lower client id) but names its number after run a has taken it.
    early = redis.Redis.from_url(isolation.with_db(settings.REDIS_URL, 0), single_connection_client=True)
    early.client_id()
    client_a, url_a = isolation.claim_redis(settings.REDIS_URL, "0000000aaaa1", given=False)
    original = redis.Redis.from_url

    def from_url(url, **kwargs):
        return early if kwargs.get("single_connection_client") else original(url, **kwargs)

    monkeypatch.setattr(redis.Redis, "from_url", from_url)
    client_b, url_b = isolation.claim_redis(settings.REDIS_URL, "0000000bbbb2", given=False)
    monkeypatch.undo()
    try:
        assert url_b != url_a
    finally:
        _release(client_b, url_b)
        _release(client_a, url_a)


@pytest.mark.skipif(not settings.REDIS_URL, reason="the production profile: MySQL and Redis")
def test_runs_pick_their_redis_databases_one_at_a_time():
    client = redis.Redis.from_url(isolation.with_db(settings.REDIS_URL, 0), single_connection_client=True)
    try:
        with isolation.claiming(client, "0000000f1rs1"):
            assert client.get(isolation.CLAIMING) == b"0000000f1rs1"
            assert 0 < client.pttl(isolation.CLAIMING) <= isolation.CLAIMING_TTL_MS  # gone if its run dies
            with (
                pytest.raises(pytest.UsageError, match="picking its Redis database"),
                isolation.claiming(client, "0000000sec02", wait_s=0.2),
            ):
                pass
        assert client.get(isolation.CLAIMING) is None
    finally:
        client.close()
