"""The bots' writes, by the names callers have always imported from here (bots/handlers.py and others).

The code lives in one module per job; this module re-exports their public names:

- bots/turn.py, the bot's turn (answering a customer message: flows, FAQ, hand-over, fallback):
  `bot_event_receive`, `handles_inbox`, `bot_turn` (-> `BotTurn`), `bot_fallback_queue`, `BUTTON_CHANNELS`;
- bots/waiting.py, the messages around the wait (run by timers and routing's signals): `bot_watchdog`,
  `queue_update_send`, `queue_updates_sweep`, `agent_joined_announce`, `idle_sweep`;
- bots/survey.py, the satisfaction survey after a chat with an agent: `survey_send`, `survey_takes_reply`,
  `survey_rating_parse`, `survey_record`, `RATING_BUTTONS`, `SKIP_WORDS`;
- bots/opening.py, business hours as the bots apply them: `business_hours_status`, `next_open_describe`.

bots/speech.py holds what they share (a bot message through the switch, a flow's texts for a contact).
New code imports from the module that does the job.
"""

from __future__ import annotations

from bots.opening import business_hours_status, next_open_describe
from bots.survey import RATING_BUTTONS, SKIP_WORDS, survey_rating_parse, survey_record, survey_send, survey_takes_reply
from bots.turn import BUTTON_CHANNELS, BotTurn, bot_event_receive, bot_fallback_queue, bot_turn, handles_inbox
from bots.waiting import agent_joined_announce, bot_watchdog, idle_sweep, queue_update_send, queue_updates_sweep

__all__ = [
    "BUTTON_CHANNELS",
    "RATING_BUTTONS",
    "SKIP_WORDS",
    "BotTurn",
    "agent_joined_announce",
    "bot_event_receive",
    "bot_fallback_queue",
    "bot_turn",
    "bot_watchdog",
    "business_hours_status",
    "handles_inbox",
    "idle_sweep",
    "next_open_describe",
    "queue_update_send",
    "queue_updates_sweep",
    "survey_rating_parse",
    "survey_record",
    "survey_send",
    "survey_takes_reply",
]
