"""Every frame the supervisors' sockets send is declared in imsubsystem/frames.py and matches it.

The sockets' one send path checks each frame when settings.IM_FRAME_CHECK is on (tests/test.env), and
raises on one that is undeclared or malformed; these tests drive both supervisor sockets with figures in
every part of the snapshot, check what arrives as well, and show that a bad frame does not get out.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.utils import timezone

from imsubsystem import services
from imsubsystem.events import frame_validate
from imsubsystem.models import ConversationStatus as S
from interface.sockets.supervisor import SupervisorLiveConsumer
from routing.models import AgentProfile, AgentStatus
from supervisor.models import QueueAlertThresholds
from tests.factories import ContactFactory, ConversationFactory
from tests.supervisor.test_scope import _communicator

pytestmark = pytest.mark.django_db(transaction=True)


def _busy_day(teams) -> None:
    """A customer waiting two minutes in Sales (over its alert threshold), one answered and closed today."""
    now = timezone.now()
    QueueAlertThresholds.objects.create(queue=teams["sales"], longest_wait_warning_s=30, service_level_warning_pct=99)
    ConversationFactory(
        inbox=teams["sales_inbox"],
        contact=ContactFactory(),
        status=S.QUEUED,
        queue=teams["sales"],
        first_queued_at=now - timedelta(minutes=2),
        queued_at=now - timedelta(minutes=2),
    )
    ConversationFactory(
        inbox=teams["sales_inbox"],
        contact=ContactFactory(),
        status=S.CLOSED,
        queue=teams["sales"],
        assignee=teams["ag_a"],
        first_queued_at=now - timedelta(minutes=10),
        queued_at=now - timedelta(minutes=10),
        assigned_at=now - timedelta(minutes=9),
        first_agent_reply_at=now - timedelta(minutes=8),
        closed_at=now - timedelta(minutes=1),
    )


async def _until(communicator, frame_type: str, seen: list[dict], *, most: int = 50) -> dict:
    """Frames until one of `frame_type` (at most `most`), each checked against its declaration on arrival."""
    for _ in range(most):
        frame = json.loads(await communicator.receive_from(timeout=5))
        frame_validate(frame, direction="server")
        seen.append(frame)
        if frame["type"] == frame_type:
            return frame
    raise AssertionError(f"no {frame_type} frame among {[f['type'] for f in seen[-most:]]}")


def _goes_away(agent) -> None:
    """What routing does when an agent chooses `away`: the profile changes and the switch publishes it."""
    AgentProfile.objects.filter(user=agent).update(status=AgentStatus.AWAY)
    services.agent_presence_publish(agent_id=agent.pk, status=AgentStatus.AWAY)


async def test_the_supervisor_socket_sends_only_declared_frames(teams, settings):
    assert settings.IM_FRAME_CHECK, "tests/test.env turns the frame check on"
    settings.IM_QUEUE_STATS_INTERVAL_S = 0.2
    await database_sync_to_async(_busy_day)(teams)
    communicator = await sync_to_async(_communicator)(teams["sup_a"], path="/ws/v1/supervisor/")
    connected, _ = await communicator.connect()
    assert connected
    seen: list[dict] = []
    ready = await _until(communicator, "supervisor.ready", seen)
    assert ready["user"]["id"] == teams["sup_a"].pk and ready["user"]["name"]
    stats = await _until(communicator, "queue.stats", seen)
    (sales,) = stats["queues"]
    assert sales["waiting"] == 1 and sales["average_wait_s"] is not None
    # The agent of sup-a's team goes away: a presence frame.
    await database_sync_to_async(_goes_away)(teams["ag_a"])
    presence = await _until(communicator, "presence", seen)
    assert (presence["agent_id"], presence["status"]) == (teams["ag_a"].pk, "away")
    await _until(communicator, "queue.stats", seen)
    await communicator.send_to(text_data=json.dumps({"type": "ping"}))
    await _until(communicator, "pong", seen)
    assert {f["type"] for f in seen} == {"supervisor.ready", "queue.stats", "presence", "pong"}
    await communicator.disconnect()


async def test_the_live_dashboard_socket_sends_only_declared_frames(teams, settings):
    assert settings.IM_FRAME_CHECK
    settings.SUPERVISOR_SNAPSHOT_TTL_S = 0
    await database_sync_to_async(_busy_day)(teams)
    communicator = await sync_to_async(_communicator)(teams["sup_a"], path="/ws/v1/supervisor/live/")
    connected, _ = await communicator.connect()
    assert connected
    seen: list[dict] = []
    ready = await _until(communicator, "supervisor.ready", seen)
    assert ready["user"] == {"id": teams["sup_a"].pk, "name": ready["user"]["name"]} and ready["user"]["name"]
    snapshot = await _until(communicator, "supervisor.snapshot", seen)
    (sales,) = snapshot["queues"]
    assert sales["waiting"] == 1 and sales["alerts"] and snapshot["alerts"]
    assert snapshot["fairness"]["assignments"]["per_agent"]
    # A presence change wakes the loop for a snapshot with the new state.
    await database_sync_to_async(_goes_away)(teams["ag_a"])
    for _ in range(20):
        snapshot = await _until(communicator, "supervisor.snapshot", seen)
        if [a["state"] for a in snapshot["agents"]] == ["away"]:
            break
    else:
        raise AssertionError("no snapshot showed the agent away")
    await communicator.send_to(text_data=json.dumps({"type": "ping"}))
    await _until(communicator, "pong", seen)
    await communicator.disconnect()


@pytest.mark.parametrize(
    "bad",
    [
        {"type": "pong", "sent_at": 1},  # a declared frame with a field nobody declared
        {"type": "supervisor.secret"},  # a frame nobody declared
    ],
)
async def test_an_undeclared_or_malformed_frame_never_leaves_a_socket(teams, settings, monkeypatch, bad):
    async def handle(self, frame):
        await self.send_frame(bad)

    monkeypatch.setattr(SupervisorLiveConsumer, "handle", handle)
    communicator = await sync_to_async(_communicator)(teams["sup_a"], path="/ws/v1/supervisor/live/")
    await communicator.connect()
    seen: list[dict] = []
    await _until(communicator, "supervisor.ready", seen)
    await communicator.send_to(text_data=json.dumps({"type": "ping", "client_id": "p1"}))
    # The send path raised: the socket answers the command with `internal`, not with the bad frame.
    error = await _until(communicator, "error", seen)
    assert (error["code"], error["command"], error["client_id"]) == ("internal", "ping", "p1")
    assert bad not in seen
    await communicator.disconnect()

    settings.IM_FRAME_CHECK = False  # production: no check, the frame goes out as it is
    communicator = await sync_to_async(_communicator)(teams["sup_a"], path="/ws/v1/supervisor/live/")
    await communicator.connect()
    await communicator.send_to(text_data=json.dumps({"type": "ping"}))
    for _ in range(20):
        frame = json.loads(await communicator.receive_from(timeout=5))
        if frame == bad:
            break
        assert frame["type"] in ("supervisor.ready", "supervisor.snapshot")
    else:
        raise AssertionError("the unchecked frame did not arrive")
    await communicator.disconnect()
