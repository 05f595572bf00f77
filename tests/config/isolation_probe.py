"""Tests that collide when two runs share names: run by tests/config/test_run_isolation.py in several
pytest runs at once (not collected by the suite itself: its name is not test_*.py).

The runs meet at each step (a file per run and step in ISOLATION_PROBE_DIR), so each writes and reads
while the others are doing the same: the same primary key in MySQL, the same Redis key, a FLUSHDB, the
same channel-layer group. Each run also writes what names it used, and what a process it starts with
the environment (as the daphne, Celery and cluster helpers do) reads from the settings.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
from channels.layers import get_channel_layer
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection

SHARED = Path(os.environ.get("ISOLATION_PROBE_DIR", "."))
ME = os.environ.get("ISOLATION_PROBE_NAME", "")
RUNS = os.environ.get("ISOLATION_PROBE_RUNS", "").split(",")
WAIT_S = 280  # under pytest-timeout's 300 s: a run may start much later than the other on a busy machine

SETTINGS_OF_A_CHILD = """
import json, os
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
from django.conf import settings
layer = settings.CHANNEL_LAYERS["default"]["CONFIG"]
print(json.dumps({"redis_url": settings.REDIS_URL, "broker": settings.CELERY_BROKER_URL,
    "cache": settings.CACHES["default"]["LOCATION"], "layer": layer["hosts"][0]["address"],
    "prefix": layer["prefix"]}))
"""


def _arrived(step: str) -> bool:
    (SHARED / f"{ME}.{step}").touch()
    return all((SHARED / f"{run}.{step}").exists() for run in RUNS)


def meet(step: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not _arrived(step):
        assert time.monotonic() < deadline, f"the other runs did not reach {step!r}"
        time.sleep(0.05)


async def ameet(step: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not _arrived(step):
        assert time.monotonic() < deadline, f"the other runs did not reach {step!r}"
        await asyncio.sleep(0.05)


def test_rows_and_redis_keys_of_the_same_names_stay_apart(transactional_db):
    store = redis.Redis.from_url(settings.REDIS_URL)
    get_user_model().objects.create(pk=4242, username=f"probe-{ME}")
    store.set("probe", ME)
    meet("written")
    assert [u.username for u in get_user_model().objects.all()] == [f"probe-{ME}"]
    assert store.get("probe") == ME.encode()
    meet("read")
    flusher = RUNS.index(ME) == 0
    if flusher:
        store.flushdb()  # as routing's rebuild tests do
    meet("flushed")
    assert store.get("probe") == (None if flusher else ME.encode())
    store.close()


async def test_a_channel_layer_group_of_the_same_name_hears_only_its_own_run():
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add("probe", channel)
    await ameet("joined")
    await layer.group_send("probe", {"type": "probe.hello", "run": ME})
    assert (await asyncio.wait_for(layer.receive(channel), 10))["run"] == ME
    await ameet("sent")
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(layer.receive(channel), 1.0)


def test_report_the_names(db):
    child = subprocess.run(
        [sys.executable, "-c", SETTINGS_OF_A_CHILD],
        env={**os.environ},
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    layer = settings.CHANNEL_LAYERS["default"]["CONFIG"]
    report = {
        "database": connection.settings_dict["NAME"],
        "redis_url": settings.REDIS_URL,
        "prefix": layer["prefix"],
        "child": json.loads(child.stdout.strip().splitlines()[-1]),
    }
    (SHARED / f"{ME}.json").write_text(json.dumps(report))
