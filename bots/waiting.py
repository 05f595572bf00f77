"""The bots' messages around the wait, run by timers and routing's signals rather than by a customer
message: the watchdog (the bot's own answer is late), the customer's place in the queue and the expected
wait (a person's answer is coming), "agent X has joined" (the wait is over), and idle reminders and
auto-close (the customer went quiet while it is their turn).

Beat runs `bot_watchdog` and the sweeps through bots.tasks (docs/bots.md, "Timers"). The queue position
and wait estimate come from the switch (imsubsystem.selectors.queue_info), which asks routing: the bots
read the switch, never routing. Each sweep takes its conversations one at a time, so one that fails never
holds back the others.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from bots import turn
from bots.models import BotFlow, BotSession
from bots.speech import contact_info, flow_text_for, say_text
from bots.texts import eta_describe
from imsubsystem import selectors as switch_selectors
from imsubsystem import services as switch_services
from imsubsystem.services import SwitchError

logger = logging.getLogger(__name__)


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
            queued += bool(turn.bot_fallback_queue(conversation_id=conversation_id, reason="timeout"))
        except Exception:
            logger.exception("Watchdog could not queue conversation %s", conversation_id)
    return queued


# --- Queue position ---------------------------------------------------------------------------------------
def queue_update_send(*, conversation_id: int, force: bool = False) -> bool:
    """Tell a waiting customer their place and the expected wait (from the switch's queue_info), if it
    changed or the flow's interval has passed. True if a message went out."""
    with transaction.atomic():
        session = BotSession.objects.select_for_update(skip_locked=True).filter(conversation_id=conversation_id).first()
        if session is None or session.flow is None or not session.flow.queue_update_every_s:
            return False
        conversation = switch_selectors.conversation_get(conversation_id=conversation_id)
        if conversation.status != "queued":
            return False
        now = timezone.now()
        due = session.queue_update_at is None or now - session.queue_update_at >= timedelta(
            seconds=session.flow.queue_update_every_s
        )
        if not (due or force):
            return False
        info = switch_selectors.queue_info(conversation_id)
        if not info:
            return False
        position = info["position"]
        if session.queue_update_at is not None and position == session.queue_position and not force:
            session.queue_update_at = now
            session.save(update_fields=["queue_update_at"])
            return False
        contact = contact_info(conversation.contact_id, conversation.pk)
        text = flow_text_for(
            session.flow,
            "queue_position",
            contact,
            {"position": position, "eta": eta_describe(info["eta_s"], contact.get("language"))},
        )
        say_text(conversation_id, text, f"bot:queue:{int(now.timestamp())}")
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


# --- The wait is over ---------------------------------------------------------------------------------------
def agent_joined_announce(*, conversation_id: int, agent_id: int) -> bool:
    """ "Alice has joined the conversation", once per agent that takes the conversation."""
    with transaction.atomic():
        session = BotSession.objects.select_for_update().filter(conversation_id=conversation_id).first()
        if session is None or session.flow is None or session.joined_agent_id == agent_id:
            return False
        conversation = switch_selectors.conversation_get(conversation_id=conversation_id)
        if conversation.status == "closed":
            return False
        name = switch_selectors.user_display_name(switch_selectors.user_get(user_id=agent_id))
        contact = contact_info(conversation.contact_id, conversation.pk)
        text = flow_text_for(session.flow, "agent_joined", contact, {"agent": name})
        say_text(conversation_id, text, f"bot:joined:{agent_id}:{conversation.last_seq}")
        session.joined_agent_id = agent_id
        session.save(update_fields=["joined_agent_id"])
    return True


# --- Idle reminders and auto-close ----------------------------------------------------------------------------
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
    with transaction.atomic():
        session = BotSession.objects.select_for_update(skip_locked=True).filter(conversation_id=conversation_id).first()
        if session is None:
            return 0
        conversation = switch_selectors.conversation_get(conversation_id=conversation_id)
        customer_turn = session.last_reply_at and (
            session.last_customer_at is None or session.last_reply_at > session.last_customer_at
        )
        if conversation.status not in statuses or not customer_turn:
            session.reminded_at = None
            session.save(update_fields=["reminded_at"])
            return 0
        contact = contact_info(conversation.contact_id, conversation.pk)
        try:
            if close:
                say_text(
                    conversation_id,
                    flow_text_for(session.flow, "idle_closed", contact),
                    f"bot:idle-close:{conversation.last_seq}",
                )
                session.state = {**(session.state or {}), "closed_by_bot": True, "step": None, "done": True}
                session.reminded_at = None
                session.save(update_fields=["state", "reminded_at"])
                switch_services.conversation_close(conversation_id=conversation_id, wrap_up="Closed after inactivity.")
            else:
                say_text(
                    conversation_id,
                    flow_text_for(session.flow, "idle_reminder", contact),
                    f"bot:idle:{conversation.last_seq}",
                )
                session.reminded_at = now
                session.save(update_fields=["reminded_at"])
        except SwitchError:
            logger.exception("Idle %s of conversation %s failed", "close" if close else "reminder", conversation_id)
            return 0
    return 1
