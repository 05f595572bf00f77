"""The conversation status table: every legal move is allowed, every other one refused."""

from __future__ import annotations

import itertools

import pytest

from imsubsystem import services
from imsubsystem.models import ConversationStatus
from imsubsystem.services import TRANSITIONS, SwitchError, status_move_allowed
from tests.factories import ConversationFactory

LEGAL = {
    ("bot", "queued"),
    ("bot", "closed"),
    ("queued", "queued"),
    ("queued", "offered"),
    ("queued", "assigned"),
    ("queued", "closed"),
    ("offered", "offered"),
    ("offered", "queued"),
    ("offered", "assigned"),
    ("offered", "closed"),
    ("assigned", "assigned"),
    ("assigned", "queued"),
    ("assigned", "offered"),
    ("assigned", "closed"),
    ("closed", "bot"),
    ("closed", "queued"),
}


@pytest.mark.parametrize(("current", "new"), list(itertools.product(ConversationStatus.values, repeat=2)))
def test_the_table(current, new):
    assert status_move_allowed(current=current, new=new) is ((current, new) in LEGAL)


def test_every_status_has_a_row():
    assert set(TRANSITIONS) == set(ConversationStatus.values)


@pytest.mark.django_db(transaction=True)
def test_closing_twice_is_refused_and_changes_nothing():
    conversation = ConversationFactory(status="closed", wrap_up="done")
    with pytest.raises(SwitchError) as refused:
        services.conversation_close(conversation_id=conversation.pk, wrap_up="again")
    assert refused.value.code == "illegal_transition"
    conversation.refresh_from_db()
    assert conversation.wrap_up == "done"


@pytest.mark.django_db(transaction=True)
def test_late_routing_signals_do_not_reopen_a_closed_conversation(make_agent):
    agent = make_agent("a1")
    conversation = ConversationFactory(status="closed")
    from django.utils import timezone

    assert not services.conversation_mark_offered(
        conversation_id=conversation.pk, offer_id="o1", agent_id=agent.pk, expires_at=timezone.now()
    )
    assert not services.conversation_assign(conversation_id=conversation.pk, agent_id=agent.pk)
    assert not services.conversation_requeued(conversation_id=conversation.pk, queue_id=conversation.queue_id)
    conversation.refresh_from_db()
    assert conversation.status == "closed" and conversation.assignee_id is None


@pytest.mark.django_db(transaction=True)
def test_a_bot_conversation_cannot_be_offered_before_handover(make_agent):
    agent = make_agent("a1")
    conversation = ConversationFactory(status="bot")
    from django.utils import timezone

    assert not services.conversation_mark_offered(
        conversation_id=conversation.pk, offer_id="o1", agent_id=agent.pk, expires_at=timezone.now()
    )
    conversation.refresh_from_db()
    assert conversation.status == "bot"
