"""A real Celery worker killed with SIGKILL in the middle of a platform send: nothing is lost, and nothing
the platform accepted is sent twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from config.celery import app as celery_app
from gateway.models import OutboxItem
from imsubsystem.models import Conversation
from imsubsystem.services import message_send
from tests.factories import InboxFactory, UserFactory
from tests.gateway.conftest import Reply
from tests.gateway.test_webhooks import tg_update

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.filterwarnings("ignore:task_always_eager has no effect on send_task"),
]

LEASE_S = 8
BASE_DIR = Path(settings.BASE_DIR)


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"Timed out waiting for {what}")


def start_worker(name: str, log: Path) -> subprocess.Popen:
    db = settings.DATABASES["default"]
    env = {
        **os.environ,
        "DATABASE_URL": f"mysql://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 3306}/{db['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "GATEWAY_SEND_LEASE_S": str(LEASE_S),
        "GATEWAY_HTTP_TIMEOUT_S": "5",
        # The stand-in platform on loopback, which the outbound guard refuses unless listed.
        "OUTBOUND_FETCH_ALLOW": ",".join(settings.OUTBOUND_FETCH_ALLOW),
    }
    command = [
        str(Path(sys.executable).with_name("celery")),
        "-A",
        "config",
        "worker",
        "-Q",
        "gateway",
        "-P",
        "solo",
        "--without-heartbeat",
        "--without-gossip",
        "--without-mingle",
        "-n",
        f"{name}@%h",
        "--loglevel",
        "INFO",
    ]
    return subprocess.Popen(
        command, cwd=BASE_DIR, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True
    )


def stop(worker: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    if worker.poll() is None:
        os.killpg(worker.pid, sig)
        worker.wait(timeout=20)


def test_sigkill_mid_send_loses_nothing_and_sends_nothing_twice(client, stand_in, monkeypatch, tmp_path):
    release = threading.Event()
    hung = threading.Event()
    counter = iter(range(1, 1000))

    def hang_then_fail(request):
        hung.set()
        release.wait(60)
        return Reply(500, {"ok": False, "description": "the caller went away"})

    stand_in.script = [hang_then_fail]
    stand_in.default = lambda request: Reply(200, {"ok": True, "result": {"message_id": next(counter)}})

    InboxFactory(
        kind="telegram",
        key="tg-kill",
        config={"api_base_url": stand_in.url},
        credentials={"bot_token": "7:K", "secret_token": "s"},
    )
    client.post(
        "/gateway/telegram/tg-kill/",
        tg_update(1, 1, "hi", datetime.now(UTC)),
        content_type="application/json",
        HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN="s",
    )
    conversation = Conversation.objects.get()
    agent = UserFactory(username="agent-kill")
    # Rows are written here; draining happens only in the real worker processes.
    monkeypatch.setattr("gateway.tasks.outbox_drain_later", lambda conversation_id: None)
    texts = [f"answer {n}" for n in range(3)]
    for text in texts:
        message_send(conversation_id=conversation.pk, sender_kind="agent", sender_user_id=agent.pk, text=text)
    assert OutboxItem.objects.filter(state="pending").count() == 3

    log = tmp_path / "workers.log"
    first = start_worker("gw-kill-1", log)
    try:
        celery_app.send_task("imsubsystem.gateway.tasks.outbox_drain", args=[conversation.pk], queue="gateway")
        wait_for(hung.is_set, 60, f"the first worker to call the platform\n{log.read_text()}")
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=20)
    finally:
        release.set()
        stop(first, signal.SIGKILL)

    head = OutboxItem.objects.order_by("id").first()
    assert head.state == "sending" and stand_in.accepted == []

    second = start_worker("gw-kill-2", log)
    try:
        # Before the lease runs out, nobody takes the row over.
        celery_app.send_task("imsubsystem.gateway.tasks.outbox_drain", args=[conversation.pk], queue="gateway")
        time.sleep(2)
        assert OutboxItem.objects.filter(state="sent").count() == 0
        wait_for(lambda: head.lease_until <= timezone.now(), LEASE_S + 5, "the lease to expire")
        celery_app.send_task("imsubsystem.gateway.tasks.gateway_sweep", queue="gateway")
        wait_for(lambda: OutboxItem.objects.filter(state="sent").count() == 3, 60, f"all sends\n{log.read_text()}")
    finally:
        stop(second)

    assert [r.json()["text"] for r in stand_in.accepted] == texts
    assert [r.json()["text"] for r in stand_in.requests].count("answer 0") == 2  # the killed try and the resend
    assert list(OutboxItem.objects.order_by("id").values_list("attempts", flat=True)) == [2, 1, 1]
