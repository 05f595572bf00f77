"""Labels, close reasons and snooze through the switch's services, with routing on real Redis: who may
label or snooze (the one visibility rule), what is refused, routing's capacity counting snoozed
conversations both ways, and a snoozed conversation coming back on its time and when the customer writes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from crm.roles import ADMIN, SUPERVISOR
from imsubsystem import selectors, services
from imsubsystem.models import CloseReason, Conversation, Label
from imsubsystem.models import ConversationStatus as S
from imsubsystem.services import SwitchError
from routing.backends import get_backend
from routing.models import AgentStatus, WorkItem, WorkStatus
from supervisor.models import Team
from tests.factories import ContactFactory, QueueFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def routing_backend():
    """Routing on real Redis here (the switch's other tests use the in-process backend)."""
    from routing.backends import channel_kinds, set_backend
    from routing.backends.redis import RedisBackend

    previous = set_backend(
        RedisBackend({"url": django_settings.REDIS_URL, "prefix": "rt-snooze"}, channel_kinds=channel_kinds())
    )
    get_backend().flush()
    yield
    set_backend(previous)


def _assigned(inbox, agent, text="Hello") -> int:
    """A customer writes and `agent` (the only one available) takes the offer."""
    contact = ContactFactory()
    message, _ = services.customer_message_send(inbox_id=inbox.pk, contact_id=contact.pk, text=text)
    conversation_id = message["conversation_id"]
    item = WorkItem.objects.get(ref=conversation_id)
    assert item.status == WorkStatus.OFFERED and item.agent_id == agent.pk
    services.offer_answer(offer_id=item.offer_id, agent_id=agent.pk, accept=True)
    assert Conversation.objects.get(pk=conversation_id).status == S.ASSIGNED
    return conversation_id


def _load(agent_id: int) -> int:
    return get_backend().agent_get(agent_id=agent_id)["total"]


# --- Labels -------------------------------------------------------------------------------------------
def test_the_holder_sets_and_unsets_labels_and_the_hook_hears_it(inbox, make_agent, frame_log):
    from imsubsystem.hooks import conversation_labels_changed

    alice = make_agent("alice")
    conversation_id = _assigned(inbox, alice)
    vip = Label.objects.create(name="VIP", colour="#aa0000")
    refund = Label.objects.create(name="Refund", colour="#00aa00")
    heard = []
    with conversation_labels_changed.subscribed(heard.append):
        labels = services.conversation_labels_set(
            conversation_id=conversation_id, label_ids=[vip.pk, refund.pk], by_user_id=alice.pk
        )
        assert [label["name"] for label in labels] == ["Refund", "VIP"]
        services.conversation_labels_set(conversation_id=conversation_id, label_ids=[vip.pk], by_user_id=alice.pk)
        # The same set again changes nothing and says nothing.
        services.conversation_labels_set(conversation_id=conversation_id, label_ids=[vip.pk], by_user_id=alice.pk)
    assert [(e.added, e.removed) for e in heard] == [((vip.pk, refund.pk), ()), ((), (refund.pk,))]
    assert list(Conversation.objects.get(pk=conversation_id).labels.values_list("name", flat=True)) == ["VIP"]
    frames = [f for group, f in frame_log.published if f["type"] == "conversation.labels"]
    assert frames[-1]["labels"] == [{"id": vip.pk, "name": "VIP", "colour": "#aa0000"}]


def test_labels_refused_for_another_teams_agent_and_for_unknown_or_inactive_labels(inbox, make_agent):
    alice = make_agent("alice")
    conversation_id = _assigned(inbox, alice)
    other_queue = QueueFactory(name="Elsewhere")
    bob = make_agent("bob", queues=[other_queue])
    vip = Label.objects.create(name="VIP", colour="#aa0000")
    old = Label.objects.create(name="Old", colour="#000000", is_active=False)

    with pytest.raises(SwitchError) as refused:
        services.conversation_labels_set(conversation_id=conversation_id, label_ids=[vip.pk], by_user_id=bob.pk)
    assert refused.value.code == "not_found"
    for bad in ([999999], [old.pk], ["1"], "1", [True]):
        with pytest.raises(SwitchError) as refused:
            services.conversation_labels_set(conversation_id=conversation_id, label_ids=bad, by_user_id=alice.pk)
        assert refused.value.code == "invalid"
    assert not Conversation.objects.get(pk=conversation_id).labels.exists()


def test_a_supervisor_of_the_team_and_an_admin_may_label(inbox, queue, make_agent):
    alice = make_agent("alice")
    conversation_id = _assigned(inbox, alice)
    vip = Label.objects.create(name="VIP", colour="#aa0000")
    sup = UserFactory(username="sup", role=SUPERVISOR)
    team = Team.objects.create(name="Support team")
    team.queues.add(queue)
    team.supervisors.add(sup)
    admin = UserFactory(username="boss", role=ADMIN)
    services.conversation_labels_set(conversation_id=conversation_id, label_ids=[vip.pk], by_user_id=sup.pk)
    services.conversation_labels_set(conversation_id=conversation_id, label_ids=[], by_user_id=admin.pk)
    outsider = UserFactory(username="sup2", role=SUPERVISOR)
    with pytest.raises(SwitchError):
        services.conversation_labels_set(conversation_id=conversation_id, label_ids=[vip.pk], by_user_id=outsider.pk)


def test_a_colour_must_be_six_hex_digits():
    from django.core.exceptions import ValidationError

    for bad in ("red", "#fff", "#12345g", "#123456;background:url(x)", "123456"):
        label = Label(name=f"bad {bad}", colour=bad)
        with pytest.raises(ValidationError):
            label.full_clean()
        with pytest.raises(ValidationError):
            label.save()
    assert not Label.objects.exists()


# --- Close reasons ------------------------------------------------------------------------------------
def test_close_with_a_reason_from_the_list_and_free_text(inbox, make_agent):
    alice = make_agent("alice")
    conversation_id = _assigned(inbox, alice)
    CloseReason.objects.create(code="solved", name="Solved")
    with pytest.raises(SwitchError) as refused:
        services.conversation_close(conversation_id=conversation_id, by_user_id=alice.pk, reason_code="nope")
    assert refused.value.code == "invalid"
    assert Conversation.objects.get(pk=conversation_id).status == S.ASSIGNED
    services.conversation_close(
        conversation_id=conversation_id, by_user_id=alice.pk, wrap_up="Sent a new one", reason_code="solved"
    )
    conversation = Conversation.objects.get(pk=conversation_id)
    assert (conversation.status, conversation.close_reason.code, conversation.wrap_up) == (
        S.CLOSED,
        "solved",
        "Sent a new one",
    )


# --- Snooze -------------------------------------------------------------------------------------------
def test_snooze_refusals(inbox, make_agent):
    alice = make_agent("alice")
    conversation_id = _assigned(inbox, alice)
    bob = make_agent("bob", queues=[QueueFactory(name="Elsewhere")])
    with pytest.raises(SwitchError) as refused:
        services.conversation_snooze(conversation_id=conversation_id, by_user_id=bob.pk)
    assert refused.value.code == "not_found"
    for until in (timezone.now() - timedelta(seconds=1), timezone.now() + timedelta(days=400)):
        with pytest.raises(SwitchError) as refused:
            services.conversation_snooze(conversation_id=conversation_id, by_user_id=alice.pk, until=until)
        assert refused.value.code == "invalid"
    assert Conversation.objects.get(pk=conversation_id).snoozed_at is None


def test_snoozed_counts_toward_capacity_when_the_queue_says_so(inbox, queue, make_agent, frame_log):
    alice = make_agent("alice", capacity=1)
    conversation_id = _assigned(inbox, alice)
    services.conversation_snooze(conversation_id=conversation_id, by_user_id=alice.pk)
    assert _load(alice.pk) == 1
    assert WorkItem.objects.get(ref=conversation_id).status == WorkStatus.ASSIGNED
    # Snoozed conversations leave the active list but stay hers; the next customer waits.
    summary = selectors.conversations_for_agent(user_id=alice.pk)[0]
    assert (summary["id"], summary["snoozed"], summary["snoozed_until"]) == (conversation_id, True, None)
    contact = ContactFactory()
    message, _ = services.customer_message_send(inbox_id=inbox.pk, contact_id=contact.pk, text="Anyone?")
    assert WorkItem.objects.get(ref=message["conversation_id"]).status == WorkStatus.WAITING

    # Her customer writes: it comes back to her, still assigned, and says so on her socket.
    customer = Conversation.objects.get(pk=conversation_id).contact_id
    services.customer_message_send(inbox_id=inbox.pk, contact_id=customer, text="I am back")
    conversation = Conversation.objects.get(pk=conversation_id)
    assert (conversation.snoozed_at, conversation.status, conversation.assignee_id) == (None, S.ASSIGNED, alice.pk)
    woke = [f for group, f in frame_log.published if f["type"] == "conversation.unsnoozed"]
    assert woke == [
        {
            "type": "conversation.unsnoozed",
            "conversation_id": conversation_id,
            "reason": "customer",
            "status": "assigned",
        }
    ]


def test_snoozed_frees_the_place_when_the_queue_says_so_and_returns_to_the_agent(inbox, queue, make_agent):
    queue.snoozed_count_toward_capacity = False
    queue.save()
    alice = make_agent("alice", capacity=1)
    conversation_id = _assigned(inbox, alice)
    services.conversation_snooze(conversation_id=conversation_id, by_user_id=alice.pk)
    assert _load(alice.pk) == 0
    item = WorkItem.objects.get(ref=conversation_id)
    assert (item.status, item.close_reason) == (WorkStatus.COMPLETED, "snoozed")
    conversation = Conversation.objects.get(pk=conversation_id)
    assert (conversation.status, conversation.assignee_id, conversation.snooze_released) == (S.ASSIGNED, alice.pk, True)

    # Her place is free: the next customer is offered to her.
    other = _assigned(inbox, alice, text="Next one")
    assert _load(alice.pk) == 1

    # The snoozed customer writes: back through the queue with alice preferred; she is full, so it
    # waits (her sticky window), and is offered to her once she closes the other.
    customer = Conversation.objects.get(pk=conversation_id).contact_id
    services.customer_message_send(inbox_id=inbox.pk, contact_id=customer, text="I am back")
    conversation = Conversation.objects.get(pk=conversation_id)
    assert (conversation.snoozed_at, conversation.status) == (None, S.QUEUED)
    assert WorkItem.objects.get(ref=conversation_id).preferred_agent_id == alice.pk
    services.conversation_close(conversation_id=other, by_user_id=alice.pk)
    item = WorkItem.objects.get(ref=conversation_id)
    assert (item.status, item.agent_id) == (WorkStatus.OFFERED, alice.pk)


def test_the_timer_wakes_a_snooze_whose_time_came(inbox, make_agent, frame_log):
    alice = make_agent("alice")
    conversation_id = _assigned(inbox, alice)
    until = timezone.now() + timedelta(minutes=5)
    services.conversation_snooze(conversation_id=conversation_id, by_user_id=alice.pk, until=until)
    assert services.snoozes_wake() == 0
    assert services.snoozes_wake(now=until + timedelta(seconds=1)) == 1
    conversation = Conversation.objects.get(pk=conversation_id)
    assert (conversation.snoozed_at, conversation.snoozed_until, conversation.status) == (None, None, S.ASSIGNED)
    woke = [f for group, f in frame_log.published if f["type"] == "conversation.unsnoozed"]
    assert [f["reason"] for f in woke] == ["time"]
    assert services.snoozes_wake(now=until + timedelta(seconds=2)) == 0


def test_the_timer_task_is_scheduled_in_both_profiles():
    assert django_settings.CELERY_BEAT_SCHEDULE["snoozes-wake"]["task"] == "imsubsystem.snoozes_wake"
    from config.celery import app

    app.loader.import_default_modules()
    assert "imsubsystem.snoozes_wake" in app.tasks


def test_closing_a_snoozed_conversation_that_freed_its_place(inbox, queue, make_agent):
    queue.snoozed_count_toward_capacity = False
    queue.save()
    alice = make_agent("alice")
    conversation_id = _assigned(inbox, alice)
    services.conversation_snooze(conversation_id=conversation_id, by_user_id=alice.pk)
    with pytest.raises(SwitchError) as refused:
        services.conversation_transfer(conversation_id=conversation_id, by_user_id=alice.pk, queue_id=queue.pk)
    assert refused.value.code == "illegal_transition"
    services.conversation_close(conversation_id=conversation_id, by_user_id=alice.pk)
    conversation = Conversation.objects.get(pk=conversation_id)
    assert (conversation.status, conversation.snoozed_at) == (S.CLOSED, None)
    assert _load(alice.pk) == 0


def test_a_mentioned_colleague_sees_the_conversation_but_may_not_label_or_snooze_it(inbox, make_agent):
    """A mention lets one see a conversation, not act on it (the rule's acting form): labels and snooze
    are actions."""
    alice = make_agent("alice")
    conversation_id = _assigned(inbox, alice)
    bob = make_agent("bob", status=AgentStatus.OFFLINE)  # an agent profile: someone who may be mentioned
    services.message_send(
        conversation_id=conversation_id,
        sender_kind="agent",
        sender_user_id=alice.pk,
        text="@Bob have a look",
        private=True,
        mentions=[bob.pk],
    )
    conversation = Conversation.objects.get(pk=conversation_id)
    assert selectors.conversation_visible_to(user=bob, conversation=conversation)
    vip = Label.objects.create(name="VIP", colour="#aa0000")
    with pytest.raises(SwitchError) as refused:
        services.conversation_labels_set(conversation_id=conversation_id, label_ids=[vip.pk], by_user_id=bob.pk)
    assert refused.value.code == "not_found"
    with pytest.raises(SwitchError) as refused:
        services.conversation_snooze(conversation_id=conversation_id, until=None, by_user_id=bob.pk)
    assert refused.value.code == "not_found"
    conversation.refresh_from_db()
    assert not conversation.labels.exists() and conversation.snoozed_at is None
