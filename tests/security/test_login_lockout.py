"""Failed log-ins lock out one user from one address for a while, with a clear message, on the staff
log-in page and the admin's; through nginx, a client-written X-Forwarded-For does not reset the count."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from django.conf import settings
from django.utils import timezone

from crm.roles import ADMIN, AGENT
from tests.factories import UserFactory

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "right-horse-battery-staple"
LOCKED_TEXT = "Too many failed log-ins for this account from your address"


def attempt(client, username: str, password: str, *, path: str = "/accounts/login/", address: str = "127.0.0.1"):
    return client.post(path, {"username": username, "password": password}, REMOTE_ADDR=address)


def fail_until_locked(client, username: str, **kwargs) -> None:
    for _ in range(settings.AXES_FAILURE_LIMIT):
        response = attempt(client, username, "wrong", **kwargs)
        assert response.status_code in (200, 429)


@pytest.mark.django_db
def test_wrong_passwords_lock_the_user_out_of_this_address(client):
    user = UserFactory(username="lock-me", role=AGENT, password=PASSWORD)
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert attempt(client, user.username, "wrong").status_code == 200
    locked = attempt(client, user.username, "wrong")
    assert locked.status_code == 429
    # Then even the right password is refused, on the log-in page, with the reason and the wait.
    response = attempt(client, user.username, PASSWORD)
    assert response.status_code == 429
    page = response.content.decode()
    assert LOCKED_TEXT in page and f"locked for {settings.AXES_COOLOFF_TIME.seconds // 60} minutes" in page
    assert 'name="password"' in page and "_auth_user_id" not in client.session
    # The same user from another address, and another user from this one, are not locked.
    assert attempt(client, user.username, PASSWORD, address="127.0.0.9").status_code == 302
    client.logout()
    other = UserFactory(username="not-locked", role=AGENT, password=PASSWORD)
    assert attempt(client, other.username, PASSWORD).status_code == 302


@pytest.mark.django_db
def test_lockout_ends_after_the_cool_off(client):
    from axes.models import AccessAttempt

    user = UserFactory(username="cool-off", role=AGENT, password=PASSWORD)
    fail_until_locked(client, user.username)
    assert attempt(client, user.username, PASSWORD).status_code == 429
    AccessAttempt.objects.update(attempt_time=timezone.now() - settings.AXES_COOLOFF_TIME - timedelta(seconds=1))
    assert attempt(client, user.username, PASSWORD).status_code == 302


@pytest.mark.django_db
def test_success_resets_the_count(client):
    user = UserFactory(username="forgetful", role=AGENT, password=PASSWORD)
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        attempt(client, user.username, "wrong")
    assert attempt(client, user.username, PASSWORD).status_code == 302
    client.logout()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        attempt(client, user.username, "wrong")
    assert attempt(client, user.username, PASSWORD).status_code == 302


@pytest.mark.django_db
def test_admin_login_is_locked_too(client):
    admin = UserFactory(username="root-admin", role=ADMIN, password=PASSWORD, is_staff=True, is_superuser=True)
    fail_until_locked(client, admin.username, path="/admin/login/")
    response = attempt(client, admin.username, PASSWORD, path="/admin/login/")
    assert response.status_code == 429 and LOCKED_TEXT in response.content.decode()
    # One lockout for both doors: the staff page refuses this user from this address as well.
    assert attempt(client, admin.username, PASSWORD).status_code == 429


EMBEDDED = """
import json, django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from django.contrib.auth import get_user_model
from django.test import Client
get_user_model().objects.create_user("emb", password="right-horse-battery-staple")
c = Client()
codes = [c.post("/accounts/login/", {"username": "emb", "password": "wrong"}).status_code for _ in range(5)]
r = c.post("/accounts/login/", {"username": "emb", "password": "right-horse-battery-staple"})
print(json.dumps({"codes": codes, "last": r.status_code, "locked": "Too many failed log-ins" in r.content.decode()}))
"""


def test_embedded_profile_locks_out_too(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update({"DJANGO_SETTINGS_MODULE": "config.settings", "SWITCHBOARD_VAR_DIR": str(tmp_path), "DEBUG": "0"})
    env["ALLOWED_HOSTS"] = "testserver"
    result = subprocess.run(
        [sys.executable, "-c", EMBEDDED], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out == {"codes": [200, 200, 200, 200, 429], "last": 429, "locked": True}


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(120)
def test_rotating_x_forwarded_for_through_nginx_does_not_reset_the_count(start_cluster):
    user = UserFactory(username="behind-nginx", role=AGENT, password=PASSWORD)
    cluster = start_cluster()
    with httpx.Client(base_url=cluster.base, timeout=20) as browser:

        def post(password: str, claimed: str) -> httpx.Response:
            browser.get("/accounts/login/")
            token = browser.cookies["csrftoken"]
            return browser.post(
                "/accounts/login/",
                data={"username": user.username, "password": password, "csrfmiddlewaretoken": token},
                headers={"X-Forwarded-For": claimed, "Referer": f"{cluster.base}/accounts/login/"},
            )

        codes = [post("wrong", f"198.51.100.{i}").status_code for i in range(settings.AXES_FAILURE_LIMIT)]
        assert codes[-1] == 429
        response = post(PASSWORD, "203.0.113.50")
        assert response.status_code == 429 and LOCKED_TEXT in response.text
