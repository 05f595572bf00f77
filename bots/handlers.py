"""The bots' entry in the switch's registry (settings.IM_BOT_HANDLERS = ["bots.handlers.on_message"]).

`on_message` is one handler object with the switch's three calls: `on_message(event)` after each message
commits, with the plain dict of imsubsystem's bot event ({"message": MessagePayload, "conversation":
{...}}); `handles_inbox(...)` before opening a conversation; `takes_closed_reply(...)` for a customer's
text on a closed conversation. All return fast: the answer runs in Celery on the "bots" queue.
"""

from __future__ import annotations

import logging
from typing import Any

from bots import services
from bots.tasks import bot_reply

logger = logging.getLogger(__name__)


class BotsHandler:
    def __call__(self, event: dict[str, Any]) -> None:
        if not services.bot_event_receive(event=event):
            return
        try:
            bot_reply.delay(conversation_id=event["conversation"]["id"])
        except Exception:
            # The broker is down: the watchdog queues the customer once BOTS_REPLY_TIMEOUT_S has passed.
            logger.exception("Could not hand message %s to a bot worker", event["message"]["id"])

    def handles_inbox(self, *, inbox_id: int, inbox_kind: str = "", inbox_key: str = "") -> bool:
        return services.handles_inbox(inbox_id=inbox_id, inbox_kind=inbox_kind, inbox_key=inbox_key)

    def takes_closed_reply(self, *, conversation_id: int, text: str) -> bool:
        return services.survey_takes_reply(conversation_id=conversation_id, text=text)


on_message = BotsHandler()
