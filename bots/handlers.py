"""The bots' answers to the switch's hooks (imsubsystem/hooks.py), subscribed in BotsConfig.ready:

- `message_committed`: after each message commits, hand the conversation to a bot worker (Celery, the
  "bots" queue) when the bots take this message;
- `bot_wanted`: whether a bot answers first in an inbox that opens a conversation;
- `closed_reply_taken`: whether a customer's text on a closed conversation answers the survey there.

All return fast: the answer runs in a worker.
"""

from __future__ import annotations

import logging

from bots import services
from bots.tasks import bot_reply
from imsubsystem.hooks import (
    ClosedReply,
    InboxOpening,
    MessageCommitted,
    bot_wanted,
    closed_reply_taken,
    message_committed,
)

logger = logging.getLogger(__name__)


def on_message_committed(event: MessageCommitted) -> None:
    if not services.bot_event_receive(event={"message": event.message, "conversation": event.conversation}):
        return
    try:
        bot_reply.delay(conversation_id=event.conversation["id"])
    except Exception:
        # The broker is down: the watchdog queues the customer once BOTS_REPLY_TIMEOUT_S has passed.
        logger.exception("Could not hand message %s to a bot worker", event.message["id"])


def on_inbox_opening(event: InboxOpening) -> bool | None:
    return (
        services.handles_inbox(inbox_id=event.inbox_id, inbox_kind=event.inbox_kind, inbox_key=event.inbox_key) or None
    )


def on_closed_reply(event: ClosedReply) -> bool | None:
    return services.survey_takes_reply(conversation_id=event.conversation_id, text=event.text) or None


def connect() -> None:
    message_committed.subscribe(on_message_committed, uid="bots.on_message_committed")
    bot_wanted.subscribe(on_inbox_opening, uid="bots.on_inbox_opening")
    closed_reply_taken.subscribe(on_closed_reply, uid="bots.on_closed_reply")
