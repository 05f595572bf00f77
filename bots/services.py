"""The bots' writes: answering customers through the switch, hand-over, automatic messages, surveys.

The bots talk to the switch only through imsubsystem.services (message_send, conversation_queue,
conversation_close) and read it through imsubsystem.selectors, like any other sender (kind "bot").
They learn of new messages from the switch's registry (settings.IM_BOT_HANDLERS -> bots.handlers) and
of assignments and closes from routing's signals (bots.receivers).

The flow logic itself is pure (bots/engine.py); this module feeds it plain dicts and carries out what
it returns. A turn that fails or runs out of time falls back to queueing the customer
(`bot_fallback_queue`); the customer's message is already stored by the switch, so nothing is lost.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import formats, timezone, translation

from bots import engine, hours, selectors
from bots.models import BotFlow, BotSession, FaqLog, SurveyResponse, SurveyStage
from bots.texts import DEFAULT_TEXTS, eta_describe, text_pick

logger = logging.getLogger(__name__)

# Channels whose client shows buttons; elsewhere options go out as numbered text.
BUTTON_CHANNELS = frozenset({"web"})
# The survey's rating as quick replies (widget buttons, Telegram's inline keyboard, WhatsApp's
# interactive list); the question's text says how to answer where a client shows none.
RATING_BUTTONS = [{"label": str(n), "value": str(n)} for n in range(1, 6)]
SKIP_WORDS = frozenset({"no", "non", "skip", "nothing", "rien", "-", "0", "不"})


def _switch():
    from imsubsystem import services as switch_services

    return switch_services


def _switch_selectors():
    from imsubsystem import selectors as switch_selectors

    return switch_selectors


def _switch_error():
    from imsubsystem.services import SwitchError

    return SwitchError


# --- Business hours ---------------------------------------------------------------------------------
def business_hours_status(*, schedule, at: datetime) -> tuple[bool, datetime | None]:
    """(is_open, next_open_at) of a BusinessHours row or a plain schedule dict at an aware instant.

    DST-correct: hours are wall-clock times in the schedule's timezone (bots/hours.py). Open: next_open_at
    is None. No opening within SEARCH_DAYS: (False, None).
    """
    spec = schedule if isinstance(schedule, Mapping) else selectors.schedule_spec(schedule=schedule)
    return hours.hours_status(spec, at)


def next_open_describe(*, next_open_at: datetime | None, timezone_name: str, language: str | None) -> str:
    """ "Monday 30 November, 09:00 (Europe/Paris)" in the contact's timezone and language."""
    if next_open_at is None:
        return text_pick(DEFAULT_TEXTS["out_of_hours_unknown"], language)
    try:
        zone = hours.zone_get(timezone_name)
    except hours.ScheduleError:
        zone = hours.zone_get("UTC")
    local = next_open_at.astimezone(zone)
    with translation.override((language or "en").split("-")[0].lower()):
        when = formats.date_format(local, "l j F, H:i")
    return f"{when} ({zone.key})"


def _contact_info(contact_id: int) -> dict[str, Any]:
    from crm.models import Contact

    contact = Contact.objects.filter(pk=contact_id).first()
    if contact is None:
        return {"language": "", "timezone": "", "values": {}}
    return {
        "language": contact.language,
        "timezone": contact.timezone,
        "values": {
            "name": contact.name,
            "email": contact.primary_email,
            "phone": contact.primary_phone,
            "order_number": (contact.custom_attributes or {}).get("order_number", ""),
        },
    }


def _hours_for(flow: BotFlow, queue_id: int | None, contact: Mapping, language: str) -> tuple[bool, str]:
    """(open now, the next opening described for this contact) for a queue, else the flow's schedule."""
    schedule = selectors.schedule_for_queue(queue_id=queue_id, flow_schedule_id=flow.business_hours_id)
    if schedule is None:
        return True, ""
    is_open, next_open_at = business_hours_status(schedule=schedule, at=timezone.now())
    if is_open:
        return True, ""
    shown_in = contact.get("timezone") or schedule.timezone
    return False, next_open_describe(next_open_at=next_open_at, timezone_name=shown_in, language=language)


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
def _ctx(session: BotSession, inbox_kind: str, contact: Mapping) -> dict[str, Any]:
    return {
        "language": contact.get("language") or "",
        "buttons": inbox_kind in BUTTON_CHANNELS,
        "values": dict(contact.get("values") or {}),
    }


def _say(conversation_id: int, action: Mapping, client_id: str) -> None:
    # Numbered options are written in the text already; only buttons travel beside it.
    buttons = action["options"] if action["presentation"] == "buttons" else ()
    _switch().message_send(
        conversation_id=conversation_id,
        sender_kind="bot",
        text=action["text"][:4000],
        client_id=client_id[:64],
        buttons=buttons,
    )


def _note(conversation_id: int, text: str, client_id: str) -> None:
    """A private note for the agents (never shown to the customer)."""
    _switch().message_send(
        conversation_id=conversation_id, sender_kind="bot", text=text[:4000], client_id=client_id[:64], private=True
    )


def _contact_capture(contact_id: int, field_name: str, value: str) -> None:
    from crm.models import Contact
    from crm.services import contact_update

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
        self.ctx = _ctx(session, conversation.inbox.kind, contact)

    def client_id(self) -> str:
        # Derived from the message being answered, so a redelivered task sends nothing twice.
        self.sent += 1
        return f"bot:{self.tag}:{self.sent}"

    def say(self, text: str) -> None:
        _say(self.conversation.pk, {"text": text, "options": [], "presentation": "none"}, self.client_id())

    def apply(self, outcome: engine.Outcome) -> None:
        self.session.state = outcome.state
        for action in outcome.actions:
            kind = action["type"]
            if kind == "say":
                _say(self.conversation.pk, action, self.client_id())
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
                _switch().conversation_close(conversation_id=self.conversation.pk, wrap_up="Ended by the bot.")

    def handover(self, action: Mapping) -> None:
        conversation = self.conversation
        queue_id = action.get("queue_id") or conversation.queue_id or conversation.inbox.default_queue_id
        if not action.get("after_hours"):
            is_open, next_open = _hours_for(self.flow, queue_id, self.contact, self.ctx["language"])
            if not is_open:
                self.ctx["values"]["next_open"] = next_open
                offer = engine.leave_message_offer(
                    self.spec, self.session.state, self.ctx, queue_id=queue_id, skills=action.get("skills") or ()
                )
                self.apply(offer)
                return
        _note(conversation.pk, _handover_note(self.session.state, action), self.client_id())
        kwargs: dict[str, Any] = {"conversation_id": conversation.pk, "queue_id": queue_id}
        if action.get("after_hours"):
            kwargs["priority"] = self.flow.after_hours_priority
        if action.get("skills"):
            kwargs["skills"] = list(action["skills"])
        _switch().conversation_queue(**kwargs)
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
        conversation = _switch_selectors().conversation_get(conversation_id=conversation_id)
        pending = [
            m
            for m in _switch_selectors().messages_after(
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
    contact = _contact_info(conversation.contact_id)
    spec = selectors.flow_spec(flow=flow)
    session.flow = flow
    turn = _Turn(session, flow, spec, conversation, contact, tag=str(message["id"]))
    text = message.get("text") or ""

    if session.survey_stage:
        if conversation.status in ("bot", "closed") and _survey_answer(session, turn, text):
            return turn.handed_over
        session.survey_stage = SurveyStage.NONE
    if conversation.status != "bot":
        return turn.handed_over

    state = session.state or {}
    if not state or state.get("done"):
        # A new conversation, or one reopened after the bot or an agent finished with it.
        is_open, next_open = _hours_for(flow, conversation.queue_id, contact, turn.ctx["language"])
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
        conversation = _switch_selectors().conversation_get(conversation_id=conversation_id)
        session.pending_since = None
        session.handled_seq = max(session.handled_seq, conversation.last_seq)
        session.state = {**(session.state or {}), "step": None, "done": True}
        session.survey_stage = SurveyStage.NONE
        queued = False
        if conversation.status == "bot":
            SwitchError = _switch_error()
            try:
                with transaction.atomic():
                    _switch().conversation_queue(conversation_id=conversation_id)
                    _note(
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


def bot_watchdog(*, now: datetime | None = None) -> int:
    """Queue every customer whose message the bot has not answered within BOTS_REPLY_TIMEOUT_S (a worker
    died, the queue is backed up, or a turn hangs beyond Celery's limits). Returns how many."""
    now = now or timezone.now()
    limit = now - timedelta(seconds=getattr(settings, "BOTS_REPLY_TIMEOUT_S", 30))
    stale = BotSession.objects.filter(pending_since__lt=limit).values_list("conversation_id", flat=True)[:500]
    queued = 0
    for conversation_id in list(stale):
        # One conversation that cannot be queued fails alone; the others still reach a person.
        try:
            queued += bool(bot_fallback_queue(conversation_id=conversation_id, reason="timeout"))
        except Exception:
            logger.exception("Watchdog could not queue conversation %s", conversation_id)
    return queued


# --- Automatic messages outside the flow --------------------------------------------------------------------
def _flow_text_for(flow: BotFlow, key: str, contact: Mapping, values: Mapping | None = None) -> str:
    spec = {"language": flow.language, "texts": {k: getattr(flow, k) for k in BotFlow.TEXT_FIELDS if getattr(flow, k)}}
    ctx = {"language": contact.get("language"), "values": {**(contact.get("values") or {}), **(values or {})}}
    return engine.flow_text(spec, key, ctx)


def queue_update_send(*, conversation_id: int, force: bool = False) -> bool:
    """Tell a waiting customer their place and the expected wait (from routing's queue_position), if it
    changed or the flow's interval has passed. True if a message went out."""
    from routing.services import queue_position

    with transaction.atomic():
        session = BotSession.objects.select_for_update(skip_locked=True).filter(conversation_id=conversation_id).first()
        if session is None or session.flow is None or not session.flow.queue_update_every_s:
            return False
        conversation = _switch_selectors().conversation_get(conversation_id=conversation_id)
        if conversation.status != "queued":
            return False
        now = timezone.now()
        due = session.queue_update_at is None or now - session.queue_update_at >= timedelta(
            seconds=session.flow.queue_update_every_s
        )
        if not (due or force):
            return False
        found = queue_position(ref=conversation_id)
        if not found:
            return False
        position, eta = found
        if session.queue_update_at is not None and position == session.queue_position and not force:
            session.queue_update_at = now
            session.save(update_fields=["queue_update_at"])
            return False
        contact = _contact_info(conversation.contact_id)
        text = _flow_text_for(
            session.flow,
            "queue_position",
            contact,
            {"position": position, "eta": eta_describe(eta, contact.get("language"))},
        )
        _say(
            conversation_id, {"text": text, "options": [], "presentation": "none"}, f"bot:queue:{int(now.timestamp())}"
        )
        session.queue_update_at = now
        session.queue_position = position
        session.save(update_fields=["queue_update_at", "queue_position"])
    return True


def queue_updates_sweep() -> int:
    """Queue position messages for every conversation the bot handed over and that still waits."""
    since = timezone.now() - timedelta(days=1)
    ids = BotSession.objects.filter(handed_over_at__gte=since, flow__queue_update_every_s__gt=0).values_list(
        "conversation_id", flat=True
    )
    sent = 0
    for conversation_id in list(ids[:2000]):
        try:
            sent += queue_update_send(conversation_id=conversation_id)
        except Exception:
            logger.exception("Queue update of %s failed", conversation_id)
    return sent


def agent_joined_announce(*, conversation_id: int, agent_id: int) -> bool:
    """ "Alice has joined the conversation", once per agent that takes the conversation."""
    with transaction.atomic():
        session = BotSession.objects.select_for_update().filter(conversation_id=conversation_id).first()
        if session is None or session.flow is None or session.joined_agent_id == agent_id:
            return False
        conversation = _switch_selectors().conversation_get(conversation_id=conversation_id)
        if conversation.status == "closed":
            return False
        name = _switch_selectors().user_display_name(_switch_selectors().user_get(user_id=agent_id))
        contact = _contact_info(conversation.contact_id)
        text = _flow_text_for(session.flow, "agent_joined", contact, {"agent": name})
        _say(
            conversation_id,
            {"text": text, "options": [], "presentation": "none"},
            f"bot:joined:{agent_id}:{conversation.last_seq}",
        )
        session.joined_agent_id = agent_id
        session.save(update_fields=["joined_agent_id"])
    return True


def idle_sweep(*, now: datetime | None = None) -> dict[str, int]:
    """Remind customers who went quiet while it is their turn, then close after a further silence."""
    now = now or timezone.now()
    done = {"reminded": 0, "closed": 0}
    for flow in BotFlow.objects.filter(is_active=True, idle_reminder_after_s__gt=0):
        statuses = {"bot", "assigned"} if flow.idle_when_assigned else {"bot"}
        remind_before = now - timedelta(seconds=flow.idle_reminder_after_s)
        to_remind = BotSession.objects.filter(
            flow=flow, reminded_at__isnull=True, last_reply_at__lt=remind_before, last_customer_at__lt=remind_before
        ).values_list("conversation_id", flat=True)
        for conversation_id in list(to_remind[:1000]):
            done["reminded"] += _idle_step_isolated(conversation_id, statuses, now, close=False)
        if flow.idle_close_after_s:
            close_before = now - timedelta(seconds=flow.idle_close_after_s)
            to_close = BotSession.objects.filter(flow=flow, reminded_at__lt=close_before).values_list(
                "conversation_id", flat=True
            )
            for conversation_id in list(to_close[:1000]):
                done["closed"] += _idle_step_isolated(conversation_id, statuses, now, close=True)
    return done


def _idle_step_isolated(conversation_id: int, statuses: set[str], now: datetime, *, close: bool) -> int:
    """One conversation's reminder or close; its failure is logged and never stops the sweep."""
    try:
        return _idle_step(conversation_id, statuses, now, close=close)
    except Exception:
        logger.exception("Idle %s of conversation %s failed", "close" if close else "reminder", conversation_id)
        return 0


def _idle_step(conversation_id: int, statuses: set[str], now: datetime, *, close: bool) -> int:
    SwitchError = _switch_error()
    with transaction.atomic():
        session = BotSession.objects.select_for_update(skip_locked=True).filter(conversation_id=conversation_id).first()
        if session is None:
            return 0
        conversation = _switch_selectors().conversation_get(conversation_id=conversation_id)
        customer_turn = session.last_reply_at and (
            session.last_customer_at is None or session.last_reply_at > session.last_customer_at
        )
        if conversation.status not in statuses or not customer_turn:
            session.reminded_at = None
            session.save(update_fields=["reminded_at"])
            return 0
        contact = _contact_info(conversation.contact_id)
        try:
            if close:
                _say(
                    conversation_id,
                    {
                        "text": _flow_text_for(session.flow, "idle_closed", contact),
                        "options": [],
                        "presentation": "none",
                    },
                    f"bot:idle-close:{conversation.last_seq}",
                )
                session.state = {**(session.state or {}), "closed_by_bot": True, "step": None, "done": True}
                session.reminded_at = None
                session.save(update_fields=["state", "reminded_at"])
                _switch().conversation_close(conversation_id=conversation_id, wrap_up="Closed after inactivity.")
            else:
                _say(
                    conversation_id,
                    {
                        "text": _flow_text_for(session.flow, "idle_reminder", contact),
                        "options": [],
                        "presentation": "none",
                    },
                    f"bot:idle:{conversation.last_seq}",
                )
                session.reminded_at = now
                session.save(update_fields=["reminded_at"])
        except SwitchError:
            logger.exception("Idle %s of conversation %s failed", "close" if close else "reminder", conversation_id)
            return 0
    return 1


# --- Satisfaction survey ------------------------------------------------------------------------------------
def survey_send(
    *, conversation_id: int, agent_id: int | None = None, queue_id: int | None = None
) -> SurveyResponse | None:
    """An agent closed the conversation: ask for a 1-5 rating, then a comment. The switch takes a bot
    message on a conversation closed within its reopen window without reopening it, so the question
    reaches the customer; the answers arrive as customer messages (which reopen the conversation to the
    bot, like any message within the window) and are stored by the next turns."""
    SwitchError = _switch_error()
    with transaction.atomic():
        session = BotSession.objects.select_for_update().filter(conversation_id=conversation_id).first()
        if session is None or session.flow is None or not session.flow.survey_enabled:
            return None
        if (session.state or {}).get("closed_by_bot"):
            return None
        conversation = _switch_selectors().conversation_get(conversation_id=conversation_id)
        now = timezone.now()
        survey = SurveyResponse.objects.create(
            conversation_id=conversation_id,
            inbox_id=conversation.inbox_id,
            contact_id=conversation.contact_id,
            agent_id=agent_id or conversation.assignee_id,
            queue_id=queue_id or conversation.queue_id,
            sent_at=now,
        )
        contact = _contact_info(conversation.contact_id)
        # What the customer wrote to the agent is not an answer to the survey.
        session.handled_seq = max(session.handled_seq, conversation.last_seq)
        try:
            with transaction.atomic():
                _say(
                    conversation_id,
                    {
                        "text": _flow_text_for(session.flow, "survey_rating", contact),
                        "options": RATING_BUTTONS,
                        "presentation": "buttons",
                    },
                    f"bot:survey:{survey.pk}",
                )
        except SwitchError as exc:
            # Past the reopen window (a queued task that ran late) the switch refuses it: not delivered.
            logger.info("Survey for conversation %s not delivered: %s", conversation_id, exc.code)
            survey.delivered = False
            survey.save(update_fields=["delivered"])
        session.survey_stage = SurveyStage.RATING
        session.survey = survey
        session.save(update_fields=["survey_stage", "survey", "handled_seq"])
    return survey


def survey_takes_reply(*, conversation_id: int, text: str) -> bool:
    """The switch asks this before reopening a closed conversation: True when the customer's text
    answers its pending survey (a rating while one is asked, any text while a comment is), so it is
    stored on the closed conversation and the conversation stays closed."""
    stage = (
        BotSession.objects.filter(conversation_id=conversation_id, survey__isnull=False)
        .values_list("survey_stage", flat=True)
        .first()
    )
    if stage == SurveyStage.RATING:
        return survey_rating_parse(text) is not None
    return stage == SurveyStage.COMMENT and bool((text or "").strip())


def survey_rating_parse(text: str) -> int | None:
    stripped = (text or "").strip()
    stars = stripped.count("★") or stripped.count("⭐")
    if stars and 1 <= stars <= 5:
        return stars
    digits = [ch for ch in stripped if ch.isdigit()]
    if len(digits) == 1 and 1 <= int(digits[0]) <= 5 and len(stripped) <= 20:
        return int(digits[0])
    return None


def _survey_answer(session: BotSession, turn: _Turn, text: str) -> bool:
    """Store a survey answer; False when the text is not one (the customer moved on to something new)."""
    survey = session.survey
    if survey is None:
        return False
    if session.survey_stage == SurveyStage.RATING:
        rating = survey_rating_parse(text)
        if rating is None:
            return False
        survey.rating = rating
        survey.answered_at = timezone.now()
        survey.save(update_fields=["rating", "answered_at"])
        session.survey_stage = SurveyStage.COMMENT
        turn.say(_flow_text_for(session.flow, "survey_comment", turn.contact))
        return True
    if session.survey_stage == SurveyStage.COMMENT:
        comment = (text or "").strip()
        if comment.lower() not in SKIP_WORDS:
            survey.comment = comment[:4000]
            survey.answered_at = timezone.now()
            survey.save(update_fields=["comment", "answered_at"])
        session.survey_stage = SurveyStage.NONE
        session.state = {**(session.state or {}), "step": None, "done": True, "closed_by_bot": True}
        turn.say(_flow_text_for(session.flow, "survey_thanks", turn.contact))
        if turn.conversation.status != "closed":  # answered after the conversation was reopened
            _switch().conversation_close(conversation_id=turn.conversation.pk, wrap_up="Survey answered.")
        return True
    return False


def survey_record(*, survey_id: int, rating: int | None = None, comment: str = "") -> SurveyResponse:
    """Store answers given another way (a rating widget, an API). A bad rating changes nothing."""
    if rating is not None and (not isinstance(rating, int) or not 1 <= rating <= 5):
        raise ValueError("rating must be an integer from 1 to 5.")
    survey = SurveyResponse.objects.get(pk=survey_id)
    if rating is not None:
        survey.rating = rating
    if comment.strip():
        survey.comment = comment.strip()[:4000]
    survey.answered_at = timezone.now()
    survey.save(update_fields=["rating", "comment", "answered_at"])
    return survey
