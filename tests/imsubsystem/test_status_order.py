"""Every conversation.status frame carries the conversation's status version, which rises with each
status move in commit order; queue-position frames carry the version of the queued status they
describe, so a client that keeps the highest version never shows an older status after a newer one."""

from __future__ import annotations

import pytest

from imsubsystem import selectors, services
from imsubsystem.events import group_conversation
from imsubsystem.models import Conversation
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db(transaction=True)


def _status_frames(frame_log, conversation_id: int) -> list[dict]:
    return [
        frame
        for group, frame in frame_log.published
        if group == group_conversation(conversation_id) and frame["type"] == "conversation.status"
    ]


def test_status_frames_carry_a_version_that_rises_with_every_move(frame_log, inbox, make_agent):
    alice = make_agent("alice")
    services.agent_presence_set(agent_id=alice.pk, status="available")
    contact = ContactFactory()
    payload, _ = services.customer_message_send(inbox_id=inbox.pk, contact_id=contact.pk, text="hi")
    conversation_id = payload["conversation_id"]
    [offer] = [f for _, f in frame_log.published if f["type"] == "offer"]
    services.offer_answer(offer_id=offer["offer_id"], agent_id=alice.pk, accept=True)
    services.conversation_close(conversation_id=conversation_id, by_user_id=alice.pk)

    # Published in the order the moves committed (a client reading them in order ends on the truth).
    moves = [(f["status"], f["version"]) for f in _status_frames(frame_log, conversation_id) if "queue" not in f]
    assert [status for status, _ in moves] == ["queued", "offered", "assigned", "closed"]
    versions = [version for _, version in moves]
    assert versions == sorted(set(versions)), versions
    assert Conversation.objects.get(pk=conversation_id).status_version == versions[-1]
    # What a socket that connects now is told carries the same version.
    conversation = selectors.conversation_get(conversation_id=conversation_id)
    assert selectors.customer_status(conversation)["status_version"] == versions[-1]


def test_a_queue_position_frame_carries_the_version_of_the_queued_status(frame_log, inbox):
    contact = ContactFactory()
    payload, _ = services.customer_message_send(inbox_id=inbox.pk, contact_id=contact.pk, text="hi")
    conversation_id = payload["conversation_id"]
    queued_version = Conversation.objects.get(pk=conversation_id).status_version
    services.queue_positions_publish(queue_id=inbox.default_queue_id)
    position = [f for f in _status_frames(frame_log, conversation_id) if "queue" in f][-1]
    assert (position["status"], position["version"]) == ("queued", queued_version)
    # The conversation moves on: its next status frame outranks every position frame sent before.
    services.conversation_close(conversation_id=conversation_id)
    closed = _status_frames(frame_log, conversation_id)[-1]
    assert closed["status"] == "closed" and closed["version"] > position["version"]
