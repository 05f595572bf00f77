"""The production profile is HTTPS-only by default, and `manage.py check --deploy` finds nothing in it.
Each case runs in a fresh interpreter with an operator's environment (nothing from tests/test.env)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OPERATOR = {
    "PATH": os.environ["PATH"],
    "HOME": os.environ.get("HOME", "/root"),
    "DJANGO_SETTINGS_MODULE": "config.settings",
    "DATABASE_URL": os.environ["DATABASE_URL"],
    "REDIS_URL": os.environ["REDIS_URL"],
    "SECRET_KEY": "x7Gq2LpV9sKd4RtW8mZc1NhY6bFj3QaE5uTo0XiP-deploy-check-key",
    "ALLOWED_HOSTS": "chat.example.com,testserver",
    "LOG_LEVEL": "WARNING",
}
PROBE = """
import json, django
from django.conf import settings
django.setup()
from django.test import Client
c = Client()
plain = c.get("/accounts/login/")
secure = c.get("/accounts/login/", headers={"X-Forwarded-Proto": "https"})
print(json.dumps({
    "redirect": settings.SECURE_SSL_REDIRECT,
    "hsts": [settings.SECURE_HSTS_SECONDS, settings.SECURE_HSTS_INCLUDE_SUBDOMAINS, settings.SECURE_HSTS_PRELOAD],
    "cookies": [settings.SESSION_COOKIE_SECURE, settings.CSRF_COOKIE_SECURE],
    "proxy": list(settings.SECURE_PROXY_SSL_HEADER),
    "plain": [plain.status_code, plain.get("Location")],
    "secure": [secure.status_code, secure.get("Strict-Transport-Security")],
    "healthz": c.get("/healthz").status_code,
    "healthz_live": c.get("/healthz/live").status_code,
    "healthz_ready": c.get("/healthz/ready").status_code,
    "metrics": c.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code,
}))
"""


def url_of_test_database() -> str:
    from django.db import connection

    db = connection.settings_dict  # the test database, which has the tables
    return f"mysql://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def run(args: list[str], **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env={**OPERATOR, **env}, capture_output=True, text=True, timeout=120
    )


def test_check_deploy_is_clean_in_the_production_profile():
    result = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.django_db
def test_production_is_https_only():
    # On the test database; no collectstatic here.
    result = run(["-c", PROBE], STATIC_MANIFEST="0", DATABASE_URL=url_of_test_database())
    assert result.returncode == 0, result.stderr
    s = json.loads(result.stdout.strip().splitlines()[-1])
    assert s["redirect"] is True
    assert s["hsts"] == [31536000, True, True]
    assert s["cookies"] == [True, True]
    # Trusted because nginx writes it itself (deploy/nginx.conf.template).
    assert s["proxy"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert s["plain"] == [301, "https://testserver/accounts/login/"]
    assert s["secure"] == [200, "max-age=31536000; includeSubDomains; preload"]
    # Probes sent straight to daphne over plain HTTP are answered, not redirected.
    assert s["healthz"] == 200 and s["metrics"] == 200
    assert s["healthz_live"] == 200 and s["healthz_ready"] == 200


@pytest.mark.django_db
def test_a_deployment_can_turn_the_redirect_off_behind_its_own_tls():
    result = run(["-c", PROBE], STATIC_MANIFEST="0", SECURE_SSL_REDIRECT="0", DATABASE_URL=url_of_test_database())
    s = json.loads(result.stdout.strip().splitlines()[-1])
    assert s["redirect"] is False and s["plain"][0] == 200
