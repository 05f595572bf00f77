"""The bots through the real switch and routing: welcome, menu, hand-over, out of hours, FAQ log, capture,
agent joined, queue updates, idle, survey, failures. Celery runs eagerly (tests/test.env), so a customer
message is answered before customer_message_send returns."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from unittest import mock

import pytest
from celery.exceptions import SoftTimeLimitExceeded
from django.utils import timezone

from bots import engine, turn, waiting
from bots.models import BotSession, FaqLog, SurveyResponse
from crm.models import Contact
from imsubsystem import selectors as switch_selectors
from imsubsystem import services as switch
from imsubsystem.models import Conversation, Message
from routing.models import Offer, Queue
from tests.factories import BusinessHoursFactory, SpecialDayFactory, WeeklyHoursFactory

pytestmark = pytest.mark.django_db(transaction=True)


def write(inbox, contact, text: str) -> int:
    payload, _ = switch.customer_message_send(inbox_id=inbox.pk, contact_id=contact.pk, text=text)
    return payload["conversation_id"]


def transcript(conversation_id: int, *, private: bool = False) -> list[tuple[str, str]]:
    return [
        (m["sender"]["kind"], m["text"])
        for m in switch_selectors.messages_after(conversation_id=conversation_id, include_private=True)
        if m["private"] == private
    ]


def bot_texts(conversation_id: int) -> list[str]:
    return [text for kind, text in transcript(conversation_id) if kind == "bot"]


def button_labels(conversation_id: int, *, back: int = 1) -> list[str]:
    """The labels of the buttons under the bot's message `back` messages from its last one."""
    bot_messages = Message.objects.filter(conversation_id=conversation_id, sender_kind="bot", private=False)
    message = list(bot_messages.order_by("-seq")[:back])[-1]
    return [button["label"] for button in message.buttons]


def status(conversation_id: int) -> str:
    return Conversation.objects.get(pk=conversation_id).status


def closed_today(queue: Queue, tz: str = "UTC"):
    """Hours of every day, round the clock, except today: a holiday."""
    schedule = BusinessHoursFactory(name=f"Hours of {queue.name}", timezone=tz)
    for weekday in range(7):
        WeeklyHoursFactory(schedule=schedule, weekday=weekday, opens="00:00", closes="00:00")
    SpecialDayFactory(schedule=schedule, date=timezone.now().astimezone(schedule_zone(tz)).date(), name="Holiday")
    Queue.objects.filter(pk=queue.pk).update(business_hours_id=schedule.pk)
    return schedule


def schedule_zone(name):
    from zoneinfo import ZoneInfo

    return ZoneInfo(name)


def test_welcome_menu_and_hand_over_to_the_chosen_queue(flow, inbox, contact, queues):
    conversation_id = write(inbox, contact, "hello")
    assert status(conversation_id) == "bot"
    # The widget shows buttons: the options go on the message, not into its text.
    assert bot_texts(conversation_id) == ["Welcome to the shop!", "Hi Ada!", "Sales or Support?"]
    menu = Message.objects.filter(conversation_id=conversation_id, sender_kind="bot").order_by("seq").last()
    assert menu.buttons == [{"label": "Sales", "value": "1"}, {"label": "Support", "value": "2"}]

    write(inbox, contact, "sales")
    conversation = Conversation.objects.get(pk=conversation_id)
    assert conversation.status == "queued" and conversation.queue_id == queues["sales"].pk
    assert bot_texts(conversation_id)[-2] == "Connecting you now."
    assert bot_texts(conversation_id)[-1].startswith("You are number 1 in line. Estimated wait:")
    assert transcript(conversation_id, private=True) == [("bot", "Bot hand-over (step).")]
    # The customer's messages are all there, in order.
    assert [t for k, t in transcript(conversation_id) if k == "customer"] == ["hello", "sales"]


def test_support_asks_email_re_asks_a_bad_one_and_stores_a_good_one(flow, inbox, contact, queues):
    conversation_id = write(inbox, contact, "hi")
    write(inbox, contact, "2")
    assert bot_texts(conversation_id)[-1] == "Your e-mail?"
    write(inbox, contact, "ada(at)example")
    assert "does not look like an e-mail" in bot_texts(conversation_id)[-1]
    assert status(conversation_id) == "bot"
    write(inbox, contact, "ada@example.com")
    contact.refresh_from_db()
    assert contact.emails == ["ada@example.com"]
    conversation = Conversation.objects.get(pk=conversation_id)
    assert conversation.status == "queued" and conversation.queue_id == queues["support"].pk
    assert "Email: ada@example.com" in transcript(conversation_id, private=True)[0][1]


@pytest.mark.parametrize("word", ["agent", "human", "人工"])
def test_hand_over_words_queue_at_once(flow, inbox, contact, word):
    conversation_id = write(inbox, contact, "hello")
    write(inbox, contact, word)
    assert status(conversation_id) == "queued"


def test_faq_matches_and_misses_are_logged(flow, inbox, contact):
    conversation_id = write(inbox, contact, "hello")
    write(inbox, contact, "opning hours?")
    assert bot_texts(conversation_id)[-2:] == ["Monday to Friday, 08:00-20:00 UTC.", "Sales or Support?"]
    assert button_labels(conversation_id, back=2) == ["Talk to a person"]
    write(inbox, contact, "my parrot is blue")
    logs = list(FaqLog.objects.order_by("id"))
    assert [(log.query, log.matched) for log in logs] == [("opning hours?", True), ("my parrot is blue", False)]
    assert logs[0].entry.title == "Opening hours" and logs[1].entry is None


def test_out_of_hours_tells_the_next_opening_and_takes_a_message_first_in_line(flow, inbox, contact, queues):
    closed_today(queues["sales"])
    conversation_id = write(inbox, contact, "hello")
    write(inbox, contact, "1")
    assert status(conversation_id) == "bot"
    offer = bot_texts(conversation_id)[-1]
    # The schedule (UTC) opens again at the next midnight UTC, shown in the contact's timezone (Europe/Paris):
    # 01:00 or 02:00 there, on the day after today's UTC date whatever the hour of the run.
    today_utc = timezone.now().astimezone(schedule_zone("UTC")).date()
    midnight = datetime.combine(today_utc + timedelta(days=1), time(0), tzinfo=schedule_zone("UTC"))
    tomorrow = midnight.astimezone(schedule_zone("Europe/Paris"))
    assert "We are closed right now. We open again " in offer and "(Europe/Paris)" in offer
    assert f"{tomorrow.day} " in offer
    assert button_labels(conversation_id) == ["Leave a message", "No, thanks"]

    write(inbox, contact, "My parcel is late, order AB-12")
    conversation = Conversation.objects.get(pk=conversation_id)
    assert conversation.status == "queued" and conversation.queue_id == queues["sales"].pk
    assert conversation.priority == flow.after_hours_priority
    assert "first in line" in bot_texts(conversation_id)[-2]
    assert Message.objects.filter(conversation_id=conversation_id, text="My parcel is late, order AB-12").exists()


def test_starting_out_of_hours_says_so_after_the_welcome(flow, inbox, contact, queues):
    closed_today(queues["support"])
    conversation_id = write(inbox, contact, "hello")
    texts = bot_texts(conversation_id)
    assert texts[0] == "Welcome to the shop!"
    assert texts[1].startswith("We are closed right now and open again ")


def test_declining_to_leave_a_message_ends_the_conversation(flow, inbox, contact, queues):
    closed_today(queues["sales"])
    conversation_id = write(inbox, contact, "hello")
    write(inbox, contact, "1")
    write(inbox, contact, "No, thanks")
    assert status(conversation_id) == "closed"
    assert bot_texts(conversation_id)[-1] == "Thank you, goodbye!"


def test_agent_joined_and_the_survey_is_stored(flow, inbox, contact, make_agent):
    alice = make_agent("alice")
    conversation_id = write(inbox, contact, "hello")
    write(inbox, contact, "sales")
    assert status(conversation_id) == "offered"
    offer = Offer.objects.get(ref=conversation_id, status="open")
    switch.offer_answer(offer_id=offer.id, agent_id=alice.pk, accept=True)
    assert status(conversation_id) == "assigned"
    assert bot_texts(conversation_id)[-1] == "Alice has joined the conversation."

    switch.conversation_close(conversation_id=conversation_id, by_user_id=alice.pk)
    survey = SurveyResponse.objects.get(conversation_id=conversation_id)
    assert survey.agent_id == alice.pk and survey.rating is None
    assert BotSession.objects.get(conversation_id=conversation_id).survey_stage == "rating"

    # The customer answers: the switch reopens the conversation to the bot, which stores the answers.
    assert write(inbox, contact, "4") == conversation_id
    survey.refresh_from_db()
    assert survey.rating == 4 and survey.answered_at is not None
    assert bot_texts(conversation_id)[-1].startswith("Thank you! Anything you would like to add?")
    write(inbox, contact, "Quick and kind. {{ settings.SECRET_KEY }} {0.__class__}")
    survey.refresh_from_db()
    assert survey.comment == "Quick and kind. {{ settings.SECRET_KEY }} {0.__class__}"
    assert bot_texts(conversation_id)[-1] == "Thank you for your feedback!"
    assert status(conversation_id) == "closed"


def test_a_reopened_conversation_that_is_not_a_survey_answer_restarts_the_flow(flow, inbox, contact, make_agent):
    alice = make_agent("alice")
    conversation_id = write(inbox, contact, "agent")
    switch.offer_answer(offer_id=Offer.objects.get(ref=conversation_id).id, agent_id=alice.pk, accept=True)
    switch.conversation_close(conversation_id=conversation_id, by_user_id=alice.pk)
    write(inbox, contact, "I have another question")
    assert SurveyResponse.objects.get(conversation_id=conversation_id).rating is None
    assert bot_texts(conversation_id)[-1] == "Sales or Support?"


def test_queue_position_is_sent_after_hand_over_and_when_it_changes(flow, inbox, contact, queues):
    conversation_id = write(inbox, contact, "hello")
    write(inbox, contact, "sales")
    assert status(conversation_id) == "queued"
    assert bot_texts(conversation_id)[-1].startswith("You are number 1 in line. Estimated wait:")
    # Nothing changed: the sweep stays quiet even after the interval.
    BotSession.objects.filter(conversation_id=conversation_id).update(
        queue_update_at=timezone.now() - timedelta(seconds=flow.queue_update_every_s + 1)
    )
    before = len(bot_texts(conversation_id))
    assert waiting.queue_updates_sweep() == 0
    assert len(bot_texts(conversation_id)) == before


def test_idle_reminder_then_auto_close(flow, inbox, contact):
    conversation_id = write(inbox, contact, "hello")
    later = timezone.now() + timedelta(seconds=flow.idle_reminder_after_s + 5)
    assert waiting.idle_sweep(now=later) == {"reminded": 1, "closed": 0}
    assert bot_texts(conversation_id)[-1].startswith("Are you still there?")
    assert waiting.idle_sweep(now=later + timedelta(seconds=5)) == {"reminded": 0, "closed": 0}
    BotSession.objects.filter(conversation_id=conversation_id).update(
        reminded_at=timezone.now() - timedelta(seconds=flow.idle_close_after_s + 1)
    )
    assert waiting.idle_sweep(now=timezone.now())["closed"] == 1
    assert status(conversation_id) == "closed"
    assert bot_texts(conversation_id)[-1].startswith("We closed this conversation")
    assert not SurveyResponse.objects.exists()


def test_a_customer_who_answers_is_not_reminded(flow, inbox, contact):
    write(inbox, contact, "hello")
    write(inbox, contact, "opening hours")
    BotSession.objects.update(
        last_customer_at=timezone.now() - timedelta(hours=2), last_reply_at=timezone.now() - timedelta(hours=1)
    )
    assert waiting.idle_sweep(now=timezone.now() + timedelta(hours=1))["reminded"] == 1
    write(inbox, contact, "still here")
    assert BotSession.objects.get().reminded_at is None


@pytest.mark.parametrize("failure", [RuntimeError("boom"), SoftTimeLimitExceeded()])
def test_a_bot_that_raises_or_runs_out_of_time_queues_the_customer(flow, inbox, contact, failure):
    with mock.patch.object(engine, "flow_first_message", side_effect=failure):
        conversation_id = write(inbox, contact, "hello, my order is broken")
    conversation = Conversation.objects.get(pk=conversation_id)
    assert conversation.status == "queued" and conversation.queue_id == inbox.default_queue_id
    assert Message.objects.filter(conversation_id=conversation_id, sender_kind="customer").get().text == (
        "hello, my order is broken"
    )
    session = BotSession.objects.get(conversation_id=conversation_id)
    assert session.pending_since is None and session.state["done"] is True
    # A late answer (a redelivered task) does nothing more.
    assert turn.bot_turn(conversation_id=conversation_id).answered == 0


def test_a_bot_that_never_answers_is_caught_by_the_watchdog(flow, inbox, contact):
    from bots import tasks

    with mock.patch.object(tasks.bot_reply, "delay"):  # the worker never picks the task up
        conversation_id = write(inbox, contact, "hello?")
    assert status(conversation_id) == "bot"
    assert waiting.bot_watchdog() == 0  # not late yet
    assert waiting.bot_watchdog(now=timezone.now() + timedelta(seconds=31)) == 1
    assert status(conversation_id) == "queued"
    assert Message.objects.filter(conversation_id=conversation_id, text="hello?").exists()
    assert "could not answer (timeout)" in transcript(conversation_id, private=True)[0][1]


def test_template_injection_comes_back_as_plain_text(flow, inbox, queues):
    contact = Contact.objects.create(name="{{ settings.SECRET_KEY }}", language="en")
    conversation_id = write(inbox, contact, "{0.__class__} {{ request }}")
    assert bot_texts(conversation_id)[1] == "Hi {{ settings.SECRET_KEY }}!"
    write(inbox, contact, "{0.__class__.__mro__}")
    texts = " ".join(bot_texts(conversation_id))
    assert "test-secret-key" not in texts and "<class" not in texts


def test_contact_language_picks_translations(flow, inbox, queues):
    contact = Contact.objects.create(name="Amélie", language="fr-FR")
    conversation_id = write(inbox, contact, "bonjour")
    assert bot_texts(conversation_id) == [
        "Bienvenue !",
        "Hi Amélie!",
        "Ventes ou assistance ?",
    ]
    assert button_labels(conversation_id) == ["Ventes", "Assistance"]


def test_inboxes_without_an_active_flow_go_straight_to_the_queue(inbox, contact):
    conversation_id = write(inbox, contact, "hello")
    assert status(conversation_id) == "queued"
    assert bot_texts(conversation_id) == []


def test_embedded_timers_run_the_watchdog(flow, inbox, contact):
    """The embedded default's one timer loop runs beat's bots-watchdog entry (switchboard/timers.py)."""
    import threading

    from bots import tasks
    from switchboard import timers

    with mock.patch.object(tasks.bot_reply, "delay"):
        conversation_id = write(inbox, contact, "hello?")
    BotSession.objects.update(pending_since=timezone.now() - timedelta(minutes=5))
    stop = threading.Event()
    timers.beat_reset_for_tests()
    try:
        # Watchdog every 10 s scaled down to 0.05 s; only this entry, so nothing else ticks.
        assert timers.beat_start(stop=stop, tick_s=0.02, only=["bots-watchdog"], scale=0.005)
        for _ in range(200):
            if status(conversation_id) == "queued":
                break
            stop.wait(0.05)
    finally:
        stop.set()
        timers.beat_reset_for_tests()
    assert status(conversation_id) == "queued"
