"""/healthz tells anyone whether the system is up and which part is down, but the backend's error text
(hosts, users, driver versions) only to the operators' machines (METRICS_ALLOWED_IPS) and staff."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROBE = """
import json, django
django.setup()
from django.test import Client
from django.contrib.auth import get_user_model
out = {}
out["anonymous"] = Client(REMOTE_ADDR="203.0.113.9").get("/healthz")
out["allowed"] = Client(REMOTE_ADDR="127.0.0.1").get("/healthz")
# A staff member's session cannot even be read while the database is down: no details, no crash.
staff = Client(REMOTE_ADDR="203.0.113.9")
staff.cookies["sessionid"] = "x" * 32
out["cookie"] = staff.get("/healthz")
print(json.dumps({k: {"status": r.status_code, "body": json.loads(r.content)} for k, r in out.items()}))
"""


def probe(**env: str) -> dict:
    full = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", **env}
    result = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=full, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_anonymous_callers_get_no_error_text():
    out = probe(DATABASE_URL="mysql://secretuser@127.0.0.1:9/switchboard", REDIS_URL="redis://127.0.0.1:9/0")
    for caller in ("anonymous", "cookie"):
        assert out[caller]["status"] == 503
        assert out[caller]["body"] == {"status": "fail", "checks": {"database": "down", "redis": "down"}}
    allowed = out["allowed"]["body"]
    assert out["allowed"]["status"] == 503 and set(allowed["errors"]) == {"database", "redis"}
    assert "127.0.0.1" in allowed["errors"]["database"] or "Connection" in allowed["errors"]["database"]


def test_staff_see_the_details(client, django_user_model):
    staff = django_user_model.objects.create_user("ops", password="x", is_staff=True)
    client.force_login(staff)
    body = client.get("/healthz", REMOTE_ADDR="203.0.113.9").json()
    assert body["profile"] == "production" and body["checks"] == {"database": "ok", "redis": "ok"}
    client.logout()
    assert client.get("/healthz", REMOTE_ADDR="203.0.113.9").json() == {
        "status": "ok",
        "checks": {"database": "ok", "redis": "ok"},
    }
