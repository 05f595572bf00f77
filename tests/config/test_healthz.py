"""GET /healthz, /healthz/live and /healthz/ready against real services, against services that do not
answer, and from a process that is draining."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROBE = """
import json, os, django
django.setup()
from django.test import Client
r = Client().get(os.environ.get("PROBE_PATH", "/healthz"))
print(json.dumps({"status": r.status_code, "body": json.loads(r.content)}))
"""


@pytest.mark.django_db
def test_healthz_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok", "redis": "ok"}
    assert response["Cache-Control"].startswith("max-age=0")


def probe(**env: str) -> dict:
    full = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", **env}
    result = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=full, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_healthz_database_down():
    # Port 9 (discard) has no MySQL on it: the connection is refused at once.
    out = probe(DATABASE_URL="mysql://root@127.0.0.1:9/switchboard")
    assert out["status"] == 503
    assert out["body"]["checks"]["database"] == "down" and out["body"]["checks"]["redis"] == "ok"
    assert "database" in out["body"]["errors"]


@pytest.mark.django_db
def test_healthz_redis_down():
    from django.db import connection

    db = connection.settings_dict  # the test database, which exists
    out = probe(
        REDIS_URL="redis://127.0.0.1:9/0",
        DATABASE_URL=f"mysql://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
    )
    assert out["status"] == 503
    assert out["body"]["checks"] == {"database": "ok", "redis": "down"}


def test_healthz_embedded_has_no_redis_check(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "SWITCHBOARD_VAR_DIR": str(tmp_path),
            "DEBUG": "0",
            "ALLOWED_HOSTS": "testserver",
        }
    )
    script = (
        "import django;django.setup();from django.core.management import call_command;"
        "call_command('migrate', verbosity=0);" + PROBE.split("django.setup()", 1)[1]
    )
    result = subprocess.run(
        [sys.executable, "-c", "import json, os\n" + script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["status"] == 200 and out["body"]["checks"] == {"database": "ok"}


# --- liveness and readiness ---------------------------------------------------------------------------
DOWN = {"DATABASE_URL": "mysql://root@127.0.0.1:9/switchboard", "REDIS_URL": "redis://127.0.0.1:9/0"}


def test_live_asks_no_dependency():
    # Neither the database nor Redis answers: the process still runs, so it is alive.
    out = probe(PROBE_PATH="/healthz/live", **DOWN)
    assert out == {"status": 200, "body": {"status": "ok"}}


@pytest.mark.django_db
def test_ready_checks_the_database_redis_and_the_channel_layer(client):
    response = client.get("/healthz/ready")
    assert response.status_code == 200, response.content
    assert response.json()["checks"] == {"database": "ok", "redis": "ok", "channel_layer": "ok"}
    assert response["Cache-Control"].startswith("max-age=0")
    # The old answer is unchanged beside it.
    assert client.get("/healthz").json()["checks"] == {"database": "ok", "redis": "ok"}


@pytest.mark.django_db
def test_ready_says_503_while_the_process_drains(client):
    from core import lifecycle

    assert lifecycle.drain_begin()
    try:
        response = client.get("/healthz/ready")
        live = client.get("/healthz/live")
    finally:
        lifecycle.reset()
    assert response.status_code == 503
    assert response.json()["status"] == "fail"
    assert response.json()["checks"] == {"draining": "yes", "database": "ok", "redis": "ok", "channel_layer": "ok"}
    assert live.status_code == 200, "a draining process is alive: nothing should restart it"
    assert client.get("/healthz/ready").status_code == 200


@pytest.mark.django_db
def test_ready_when_redis_is_down():
    from django.db import connection

    db = connection.settings_dict
    out = probe(
        PROBE_PATH="/healthz/ready",
        REDIS_URL="redis://127.0.0.1:9/0",
        DATABASE_URL=f"mysql://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
    )
    assert out["status"] == 503
    # Redis is the channel layer's too: both are down.
    assert out["body"]["checks"] == {"database": "ok", "redis": "down", "channel_layer": "down"}
    assert set(out["body"]["errors"]) == {"redis", "channel_layer"}


def test_ready_when_the_database_is_down():
    out = probe(PROBE_PATH="/healthz/ready", DATABASE_URL="mysql://root@127.0.0.1:9/switchboard")
    assert out["status"] == 503
    assert out["body"]["checks"] == {"database": "down", "redis": "ok", "channel_layer": "ok"}
