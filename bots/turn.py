"""The bot's turn: answering a customer's messages with the conversation's flow (welcome, questions,
captures, the FAQ) and handing the customer over to a person, or falling back to the queue when the turn
fails.

The switch tells the bots of each new message through its registry (settings.IM_BOT_HANDLERS ->
bots.handlers, which calls `bot_event_receive` and `handles_inbox`); the answer runs in Celery
(bots.tasks.bot_reply -> `bot_turn`). The flow logic itself is pure (bots/engine.py): this module feeds it
plain dicts and carries out what it returns through the switch's services (message_send,
conversation_queue, conversation_close). A turn that fails or runs out of time falls back to queueing the
customer (`bot_fallback_queue`); the customer's message is already stored by the switch, so nothing is
lost.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from bots import engine, selectors
from bots.models import BotFlow, BotSession, FaqLog, SurveyStage
from bots.opening import hours_for
from bots.speech import contact_info, note, say, say_text
from bots.survey import survey_answer
from crm.models import Contact
from crm.services import contact_update
from imsubsystem import selectors as switch_selectors
from imsubsystem import services as switch_services
from imsubsystem.services import SwitchError

logger = logging.getLogger(__name__)

# Channels whose client shows buttons; elsewhere options go out as numbered text.
BUTTON_CHANNELS = frozenset({"web"})


# --- Registry entry: a new message from the switch -----------------------------------------------------
def bot_event_receive(*, event: Mapping[str, Any]) -> bool:
    """Record a new message of a bot-served conversation; True when the bot must answer it (a customer
    message while the bot holds the conversation). Runs in the switch's process after its commit, so it
    only writes a row: the answer itself runs in Celery (bots.tasks.bot_reply)."""
    message, conversation = event.get("message") or {}, event.get("conversation") or {}
    if not message or not conversation or message.get("private"):
        return False
    if not selectors.inbox_has_active_flow(inbox_id=conversation["inbox_id"]):
        return False
    now = timezone.now()
    kind = message["sender"]["kind"]
    if kind != "customer":
        BotSession.objects.filter(conversation_id=conversation["id"]).update(last_reply_at=now)
        return False
    session, _ = BotSession.objects.get_or_create(
        conversation_id=conversation["id"],
        defaults={"inbox_id": conversation["inbox_id"], "contact_id": conversation["contact_id"]},
    )
    status = conversation.get("status")
    # The bot answers while it holds the conversation, and the survey's answers on the closed one.
    must_answer = status == "bot" or (status == "closed" and bool(session.survey_stage))
    fields: dict[str, Any] = {"last_customer_at": now, "reminded_at": None}
    if must_answer and session.pending_since is None:
        fields["pending_since"] = now
    BotSession.objects.filter(pk=session.pk).update(**fields)
    if not must_answer:
        # Written to a person (queued, offered, assigned): never the bot's to answer later, when the
        # conversation comes back to it.
        BotSession.objects.filter(pk=session.pk, handled_seq__lt=message["seq"]).update(handled_seq=message["seq"])
    return must_answer


def handles_inbox(*, inbox_id: int, inbox_kind: str = "", inbox_key: str = "") -> bool:
    """The switch asks this before opening a conversation: an inbox with an active flow starts with the bot."""
    return selectors.inbox_has_active_flow(inbox_id=inbox_id)


# --- A bot turn ------------------------------------------------------------------------------------------
def _ctx(inbox_kind: str, contact: Mapping) -> dict[str, Any]:
    return {
        "language": contact.get("language") or "",
        "inbox_language": contact.get("inbox_language") or "",
        "buttons": inbox_kind in BUTTON_CHANNELS,
        "values": dict(contact.get("values") or {}),
    }


def _contact_capture(contact_id: int, field_name: str, value: str) -> None:
    contact = Contact.objects.filter(pk=contact_id).first()
    if contact is None:
        return
    if field_name == "name":
        data: dict[str, Any] = {"name": value}
    elif field_name == "email":
        data = {"emails": [value, *contact.emails]}
    elif field_name == "phone":
        data = {"phones": [value, *contact.phones]}
    else:
        data = {"custom_attributes": {**(contact.custom_attributes or {}), field_name: value}}
    contact_update(contact=contact, data=data)


def _handover_note(state: Mapping, action: Mapping) -> str:
    lines = [f"Bot hand-over ({action['reason'].replace('_', ' ')})."]
    for field_name, value in (state.get("captured") or {}).items():
        lines.append(f"{field_name.replace('_', ' ').capitalize()}: {value}")
    if action.get("skills"):
        lines.append(f"Skills: {', '.join(action['skills'])}")
    if action.get("after_hours"):
        lines.append("Left a message out of hours.")
    return "\n".join(lines)


class _Turn:
    """Carries out one outcome of the engine for one conversation, in the caller's transaction."""

    def __init__(self, session: BotSession, flow: BotFlow, spec: Mapping, conversation, contact: Mapping, tag: str):
        self.session, self.flow, self.spec, self.conversation = session, flow, spec, conversation
        self.contact, self.tag, self.sent = contact, tag, 0
        self.handed_over = False
        self.ctx = _ctx(conversation.inbox.kind, contact)

    def client_id(self) -> str:
        # Derived from the message being answered, so a redelivered task sends nothing twice.
        self.sent += 1
        return f"bot:{self.tag}:{self.sent}"

    def say(self, text: str) -> None:
        say_text(self.conversation.pk, text, self.client_id())

    def apply(self, outcome: engine.Outcome) -> None:
        self.session.state = outcome.state
        for action in outcome.actions:
            kind = action["type"]
            if kind == "say":
                say(self.conversation.pk, action, self.client_id())
            elif kind == "capture":
                _contact_capture(self.conversation.contact_id, action["field"], action["value"])
                self.ctx["values"][action["field"]] = action["value"]
            elif kind == "faq":
                FaqLog.objects.create(
                    inbox_id=self.conversation.inbox_id,
                    conversation_id=self.conversation.pk,
                    query=action["query"][:2000],
                    entry_id=action["entry_id"],
                    score=action["score"],
                    matched=action["entry_id"] is not None,
                )
            elif kind == "handover":
                self.handover(action)
            elif kind == "end":
                self.session.state = {**self.session.state, "closed_by_bot": True}
                switch_services.conversation_close(conversation_id=self.conversation.pk, wrap_up="Ended by the bot.")

    def handover(self, action: Mapping) -> None:
        conversation = self.conversation
        queue_id = action.get("queue_id") or conversation.queue_id or conversation.inbox.default_queue_id
        if not action.get("after_hours"):
            is_open, next_open = hours_for(self.flow, queue_id, self.contact, self.ctx["language"])
            if not is_open:
                self.ctx["values"]["next_open"] = next_open
                offer = engine.leave_message_offer(
                    self.spec, self.session.state, self.ctx, queue_id=queue_id, skills=action.get("skills") or ()
                )
                self.apply(offer)
                return
        note(conversation.pk, _handover_note(self.session.state, action), self.client_id())
        kwargs: dict[str, Any] = {"conversation_id": conversation.pk, "queue_id": queue_id}
        if action.get("after_hours"):
            kwargs["priority"] = self.flow.after_hours_priority
        if action.get("skills"):
            kwargs["skills"] = list(action["skills"])
        switch_services.conversation_queue(**kwargs)
        self.session.handed_over_at = timezone.now()
        self.session.queue_update_at = None
        self.session.queue_position = None
        self.handed_over = True


@dataclass(frozen=True)
class BotTurn:
    answered: int = 0
    # The customer went to a queue: the caller sends the first queue update once this commits.
    handed_over: bool = False


def bot_turn(*, conversation_id: int) -> BotTurn:
    """Answer every customer message the bot has not answered yet, in seq order; returns how many and
    whether the customer was handed to a queue.

    The session row lock serialises turns of one conversation across workers; the state, the replies and
    any hand-over commit together.
    """
    with transaction.atomic():
        session = BotSession.objects.select_for_update().filter(conversation_id=conversation_id).first()
        if session is None:
            return BotTurn()
        conversation = switch_selectors.conversation_get(conversation_id=conversation_id)
        pending = [
            m
            for m in switch_selectors.messages_after(
                conversation_id=conversation_id, after_seq=session.handled_seq, include_private=False
            )
            if m["sender"]["kind"] == "customer"
        ]
        answered, handed_over = 0, False
        for message in pending:
            conversation.refresh_from_db(fields=["status", "queue", "assignee"])
            handed_over = _message_answer(session, conversation, message) or handed_over
            session.handled_seq = message["seq"]
            answered += 1
        session.pending_since = None
        session.save()
    return BotTurn(answered=answered, handed_over=handed_over)


def _message_answer(session: BotSession, conversation, message: Mapping) -> bool:
    """Answer one message; returns whether the customer was handed to a queue."""
    flow = selectors.flow_for_inbox(inbox_id=conversation.inbox_id)
    if flow is None:
        return False
    contact = contact_info(conversation.contact_id, conversation.pk)
    spec = selectors.flow_spec(flow=flow)
    session.flow = flow
    turn = _Turn(session, flow, spec, conversation, contact, tag=str(message["id"]))
    text = message.get("text") or ""

    if session.survey_stage:
        if conversation.status in ("bot", "closed") and survey_answer(session, conversation, contact, text, turn.say):
            return turn.handed_over
        session.survey_stage = SurveyStage.NONE
    if conversation.status != "bot":
        return turn.handed_over

    state = session.state or {}
    if not state or state.get("done"):
        # A new conversation, or one reopened after the bot or an agent finished with it.
        is_open, next_open = hours_for(flow, conversation.queue_id, contact, turn.ctx["language"])
        if not is_open and flow.closed_notice:
            turn.ctx["values"]["next_open"] = next_open
            turn.ctx["closed_notice"] = engine.flow_text(spec, "closed_notice", turn.ctx)
        session.joined_agent_id = None
        session.handed_over_at = None
        turn.apply(engine.flow_first_message(spec, text, turn.ctx))
        return turn.handed_over
    turn.apply(engine.flow_reply(spec, state, text, turn.ctx))
    return turn.handed_over


def bot_fallback_queue(*, conversation_id: int, reason: str) -> bool:
    """The bot failed or ran out of time: hand the customer to a person. True if it queued them.

    The session is locked with SKIP LOCKED so a sweep never waits behind a turn that is still running.
    """
    with transaction.atomic():
        session = BotSession.objects.select_for_update(skip_locked=True).filter(conversation_id=conversation_id).first()
        if session is None:
            return False
        conversation = switch_selectors.conversation_get(conversation_id=conversation_id)
        session.pending_since = None
        session.handled_seq = max(session.handled_seq, conversation.last_seq)
        session.state = {**(session.state or {}), "step": None, "done": True}
        session.survey_stage = SurveyStage.NONE
        queued = False
        if conversation.status == "bot":
            try:
                with transaction.atomic():
                    switch_services.conversation_queue(conversation_id=conversation_id)
                    note(
                        conversation_id,
                        f"The bot could not answer ({reason}); handed over.",
                        f"bot:fallback:{conversation.last_seq}",
                    )
                queued = True
                session.handed_over_at = timezone.now()
            except SwitchError:
                logger.exception("Fallback queueing of conversation %s failed", conversation_id)
        session.save()
    logger.warning("Bot fell back to the queue for conversation %s: %s", conversation_id, reason)
    return queued
