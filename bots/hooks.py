"""What the bots tell other apps (core/hooks.py), without importing them.

- `survey_answered`: inside the transaction that stores a customer's answer to the satisfaction survey
  (bots.survey: the rating, then the comment or its skip; `survey_record` for answers given another way),
  after the row is saved. A subscriber's rows commit or roll back with the answer; it must not call out.
  The outgoing webhooks.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from core.hooks import Hook, HookEvent


@dataclass(frozen=True)
class SurveyAnswered(HookEvent):
    """The survey's answers so far: `rating` 1-5 or None, `comment` (may be empty); `complete` once the
    customer has answered (or skipped) the comment, or the answers came another way."""

    survey_id: int
    conversation_id: int
    inbox_id: int
    contact_id: int
    agent_id: int | None
    queue_id: int | None
    rating: int | None
    comment: str
    complete: bool
    answered_at: datetime


survey_answered: Hook[SurveyAnswered] = Hook("bots.survey_answered", SurveyAnswered)
