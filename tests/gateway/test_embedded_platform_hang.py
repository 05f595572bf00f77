"""The embedded default, as `make run` serves it (SQLite, in-memory layer and routing, Celery eager, no beat),
with a platform that hangs and then comes back:

* the agent's send is acknowledged as stored within the console's own ack timeout while the platform hangs
  (the send runs on a background worker, not in the socket's path), and the socket is never dropped;
* the agent then sees `retrying` with the reason and when the next attempt is due;
* with nobody sending anything else, the in-process timer loop (beat's schedule, switchboard/timers.py) sends
  it again when due and the agent sees `sent`.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.browser.conftest import _free_port, _wait_for_port
from tests.gateway.conftest import Reply, StandIn

ROOT = Path(__file__).resolve().parents[2]
CONSOLE_ACK_TIMEOUT_S = 8  # static/agent/console.js: a send not acknowledged by then is sent again
PLATFORM_TIMEOUT_S = 12  # longer than the console's ack timeout, as the default 15 s is

SETUP = r"""
import json
from importlib import import_module

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY

from crm.models import ContactIdentity
from crm.roles import AGENT
from imsubsystem.models import Inbox
from tests.factories import ContactFactory, ConversationFactory, QueueFactory, UserFactory

agent = UserFactory(username="agent-e", role=AGENT)
queue = QueueFactory(name="Platform")
inbox = Inbox.objects.create(
    kind="telegram", key="tg-hang", name="Telegram", default_queue=queue,
    config={"api_base_url": "%(platform)s"}, credentials={"bot_token": "9:Z", "secret_token": "s"},
)
contact = ContactFactory(name="Ada")
ContactIdentity.objects.create(contact=contact, kind="telegram", external_id="4242")
conversation = ConversationFactory(contact=contact, inbox=inbox, queue=queue, status="assigned", assignee=agent)
store = import_module(settings.SESSION_ENGINE).SessionStore()
store[SESSION_KEY] = str(agent.pk)
store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
store[HASH_SESSION_KEY] = agent.get_session_auth_hash()
store.create()
cookie = settings.SESSION_COOKIE_NAME + "=" + store.session_key
print("SETUP " + json.dumps({"conversation": conversation.pk, "cookie": cookie}))
"""


def embedded_env(tmp_path: Path, platform_url: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "ALLOWED_HOSTS", "DEBUG", "CELERY_TASK_ALWAYS_EAGER"}
        and not k.startswith(("TEST_", "ROUTING_", "INPROCESS_"))
    }
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "SWITCHBOARD_VAR_DIR": str(tmp_path / "var"),
            "PYTHONUNBUFFERED": "1",
            "GATEWAY_HTTP_TIMEOUT_S": str(PLATFORM_TIMEOUT_S),
            "GATEWAY_SWEEP_S": "0.5",
            # The stand-in platform listens on loopback.
            "OUTBOUND_FETCH_ALLOW": platform_url.removeprefix("http://"),
        }
    )
    return env


@pytest.fixture
def platform():
    server = StandIn()
    yield server
    server.close()


@pytest.mark.slow
def test_a_hanging_platform_never_holds_the_agent_and_the_embedded_default_retries_on_its_own(tmp_path, platform):
    release = threading.Event()

    def hang(request):
        release.wait(60)  # the platform answers nothing until the test lets it
        return Reply(504, {"ok": False, "description": "Gateway Timeout"})

    platform.script = [hang]
    platform.default = Reply(200, {"ok": True, "result": {"message_id": 501}})
    env = embedded_env(tmp_path, platform.url)
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True, timeout=300)
    out = subprocess.run(
        [*manage, "shell", "-c", SETUP % {"platform": platform.url}],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=120,
        capture_output=True,
        text=True,
    ).stdout
    setup = json.loads(next(line for line in out.splitlines() if line.startswith("SETUP "))[6:])

    port = _free_port()
    log_path = tmp_path / "daphne.log"
    with open(log_path, "wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_for_port(port, server)
        frames = asyncio.run(console(port, setup, release))
    finally:
        release.set()
        server.terminate()
        server.wait(10)
    types = [f["type"] for f in frames]
    assert "message.ack" in types, log_path.read_text()[-3000:]
    statuses = [f for f in frames if f["type"] == "message.status"]
    retrying = next(f for f in statuses if f["status"] == "retrying")
    assert retrying["error"] and retrying["retry_at"]
    assert statuses[-1]["status"] == "sent"
    assert [r.json()["text"] for r in platform.accepted] == ["Are you still there?"]


async def console(port: int, setup: dict, release: threading.Event) -> list[dict]:
    from websockets.asyncio.client import connect

    base = f"http://127.0.0.1:{port}"
    frames: list[dict] = []
    async with connect(
        f"ws://127.0.0.1:{port}/ws/v1/agent/", additional_headers={"Origin": base, "Cookie": setup["cookie"]}
    ) as ws:

        async def until(predicate, timeout: float) -> dict:
            async with asyncio.timeout(timeout):
                while True:
                    frame = json.loads(await ws.recv())
                    frames.append(frame)
                    if predicate(frame):
                        return frame

        await until(lambda f: f["type"] == "agent.ready", 30)
        await ws.send(
            json.dumps(
                {
                    "type": "message.send",
                    "conversation_id": setup["conversation"],
                    "client_id": "c-hang-1",
                    "text": "Are you still there?",
                }
            )
        )
        # Stored and acknowledged while the platform still hangs: within the console's own ack timeout.
        await until(lambda f: f["type"] == "message.ack", CONSOLE_ACK_TIMEOUT_S)
        assert not release.is_set()
        # The platform call times out: the agent is told it will be retried, why, and when.
        await until(lambda f: f["type"] == "message.status" and f["status"] == "retrying", PLATFORM_TIMEOUT_S + 30)
        release.set()
        # Nothing else is sent: the embedded default's timer loop retries when due, on the same socket.
        await until(lambda f: f["type"] == "message.status" and f["status"] == "sent", 60)
    return frames
