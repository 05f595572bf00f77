"""The Celery broker's Redis killed and started again empty while platform sends are in flight.

A Celery worker (with beat inside it, the gateway sweep every second) drains the gateway outbox to a
local HTTP server standing in for Telegram; its broker is a redis-server of the test's own, so the
machine's shared Redis is left alone. The agent writes twelve messages; while the stand-in holds the
fourth send, the broker gets SIGKILL. The held send is answered while the broker is down (the worker
finishes its drain without it), and the broker comes back empty: the queued drain tasks are gone. The
agent writes twelve more. Beat's sweep finds the due rows again and the worker, reconnected, sends them:
every message reaches the platform exactly once, in order, and every row ends `sent`.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections import Counter
from datetime import UTC, datetime

import pytest
from django.conf import settings

from gateway.models import OutboxItem
from imsubsystem.models import Conversation
from imsubsystem.services import message_send
from tests.factories import InboxFactory, UserFactory
from tests.faults.support import BIN, ROOT
from tests.gateway.conftest import Reply, StandIn
from tests.gateway.test_webhooks import tg_update

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

BEFORE = AFTER = 12
HELD = 4  # the send the stand-in holds while the broker goes


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def start_worker(workdir, broker_url: str, stand_in: StandIn) -> subprocess.Popen:
    db = settings.DATABASES["default"]
    env = {
        **os.environ,
        "DATABASE_URL": f"mysql://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 3306}/{db['NAME']}",
        "REDIS_URL": settings.REDIS_URL,  # cache and channel layer: the run's own database on the shared Redis
        "CELERY_BROKER_URL": broker_url,
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "GATEWAY_SWEEP_S": "1",
        "GATEWAY_HTTP_TIMEOUT_S": "20",
        # The stand-in platform on loopback, which the outbound guard refuses unless listed.
        "OUTBOUND_FETCH_ALLOW": stand_in.url.split("://", 1)[1],
        "LOG_LEVEL": "WARNING",
    }
    command = [
        str(BIN / "celery"),
        "-A",
        "config",
        "worker",
        "-B",
        "-s",
        str(workdir / "celerybeat-schedule"),
        "-Q",
        "gateway",
        "-P",
        "solo",
        "--without-heartbeat",
        "--without-gossip",
        "--without-mingle",
        "--loglevel",
        "WARNING",
    ]
    log = open(workdir / "celery.log", "ab")  # noqa: SIM115 - lives as long as the process
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)


def test_broker_restarted_with_sends_in_flight_sends_each_message_once(client, own_redis, monkeypatch, tmp_path):
    stand_in = StandIn()
    hung, release = threading.Event(), threading.Event()
    ids = iter(range(1, 1000))

    def answer(request):
        if len(stand_in.requests) == HELD:
            hung.set()
            release.wait(30)
        time.sleep(0.05)  # a platform's answer takes a moment: sends stay in flight
        return Reply(200, {"ok": True, "result": {"message_id": next(ids)}})

    stand_in.default = answer
    InboxFactory(
        kind="telegram",
        key="tg-broker",
        config={"api_base_url": stand_in.url},
        credentials={"bot_token": "7:B", "secret_token": "s"},
    )
    client.post(
        "/gateway/telegram/tg-broker/",
        tg_update(1, 1, "hi", datetime.now(UTC)),
        content_type="application/json",
        HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN="s",
    )
    conversation = Conversation.objects.get()
    agent = UserFactory(username="agent-broker")
    # Rows are written here; only the worker drains them (beat's sweep hands it the due conversations).
    monkeypatch.setattr("gateway.tasks.outbox_drain_later", lambda conversation_id: None)
    texts = [f"answer {n}" for n in range(BEFORE + AFTER)]

    def write(some: list[str]) -> None:
        for text in some:
            message_send(conversation_id=conversation.pk, sender_kind="agent", sender_user_id=agent.pk, text=text)

    def sent() -> int:
        return OutboxItem.objects.filter(state="sent").count()

    worker = start_worker(tmp_path, own_redis.url, stand_in)
    log = tmp_path / "celery.log"
    try:
        write(texts[:BEFORE])
        wait_for(hung.is_set, 60, f"the worker to call the platform\n{log.read_text()[-3000:]}")
        own_redis.kill()
        release.set()  # the held send is answered while the broker is down
        time.sleep(1.5)
        own_redis.start()  # empty: the drain tasks queued meanwhile are gone
        write(texts[BEFORE:])
        wait_for(lambda: sent() == len(texts), 40, f"every row sent ({sent()} sent)\n{log.read_text()[-3000:]}")
        time.sleep(1.5)  # a second sweep: nothing goes twice
    finally:
        release.set()
        worker.terminate()
        worker.wait(timeout=20)
        stand_in.close()

    platform = [r.json()["text"] for r in stand_in.requests]
    assert Counter(platform) == Counter(texts), "a message sent twice or never"
    assert [r.json()["text"] for r in stand_in.accepted] == texts, "the platform took them once each, in order"
    assert set(OutboxItem.objects.values_list("attempts", flat=True)) == {1}
