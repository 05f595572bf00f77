"""The satisfaction survey after a chat with an agent: ask for a 1-5 rating, then a comment, on the
closed conversation, and store the answers.

routing's `work_released` (an agent completed the conversation) queues bots.tasks.survey_send; the switch
asks `survey_takes_reply` before reopening a closed conversation for a customer's text; the bot's turn
(bots/turn.py) hands the answers to `survey_answer`. docs/bots.md, "The survey after a close".
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from django.db import transaction
from django.utils import timezone

from bots.hooks import SurveyAnswered, survey_answered
from bots.models import BotSession, SurveyResponse, SurveyStage
from bots.speech import contact_info, flow_text_for, say_text
from imsubsystem import selectors as switch_selectors
from imsubsystem import services as switch_services
from imsubsystem.services import SwitchError

logger = logging.getLogger(__name__)

# The survey's rating as quick replies (widget buttons, Telegram's inline keyboard, WhatsApp's
# interactive list); the question's text says how to answer where a client shows none.
RATING_BUTTONS = [{"label": str(n), "value": str(n)} for n in range(1, 6)]
SKIP_WORDS = frozenset({"no", "non", "skip", "nothing", "rien", "-", "0", "不", "不用", "没有", "无", "跳过", "没了"})


def survey_send(
    *, conversation_id: int, agent_id: int | None = None, queue_id: int | None = None
) -> SurveyResponse | None:
    """An agent closed the conversation: ask for a 1-5 rating, then a comment. The switch takes a bot
    message on a conversation closed within its reopen window without reopening it, so the question
    reaches the customer; the answers arrive as customer messages (which reopen the conversation to the
    bot, like any message within the window) and are stored by the next turns."""
    with transaction.atomic():
        session = BotSession.objects.select_for_update().filter(conversation_id=conversation_id).first()
        if session is None or session.flow is None or not session.flow.survey_enabled:
            return None
        if (session.state or {}).get("closed_by_bot"):
            return None
        conversation = switch_selectors.conversation_get(conversation_id=conversation_id)
        now = timezone.now()
        survey = SurveyResponse.objects.create(
            conversation_id=conversation_id,
            inbox_id=conversation.inbox_id,
            contact_id=conversation.contact_id,
            agent_id=agent_id or conversation.assignee_id,
            queue_id=queue_id or conversation.queue_id,
            sent_at=now,
        )
        contact = contact_info(conversation.contact_id, conversation.pk)
        # What the customer wrote to the agent is not an answer to the survey.
        session.handled_seq = max(session.handled_seq, conversation.last_seq)
        try:
            with transaction.atomic():
                say_text(
                    conversation_id,
                    flow_text_for(session.flow, "survey_rating", contact),
                    f"bot:survey:{survey.pk}",
                    buttons=RATING_BUTTONS,
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
    """A rating from 1 to 5 written as stars or one digit in a short text; None for anything else."""
    stripped = (text or "").strip()
    stars = stripped.count("★") or stripped.count("⭐")
    if stars and 1 <= stars <= 5:
        return stars
    digits = [ch for ch in stripped if ch.isdigit()]
    if len(digits) == 1 and 1 <= int(digits[0]) <= 5 and len(stripped) <= 20:
        return int(digits[0])
    return None


def survey_answer(session: BotSession, conversation, contact: Mapping, text: str, say: Callable[[str], None]) -> bool:
    """Store a survey answer given in a bot turn; False when the text is not one (the customer moved on
    to something new). `say` sends the bot's next words in the turn (its client_id follows the turn)."""
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
        _answered(survey, complete=False)
        session.survey_stage = SurveyStage.COMMENT
        say(flow_text_for(session.flow, "survey_comment", contact))
        return True
    if session.survey_stage == SurveyStage.COMMENT:
        comment = (text or "").strip()
        if comment.lower() not in SKIP_WORDS:
            survey.comment = comment[:4000]
            survey.answered_at = timezone.now()
            survey.save(update_fields=["comment", "answered_at"])
        _answered(survey, complete=True)
        session.survey_stage = SurveyStage.NONE
        session.state = {**(session.state or {}), "step": None, "done": True, "closed_by_bot": True}
        say(flow_text_for(session.flow, "survey_thanks", contact))
        if conversation.status != "closed":  # answered after the conversation was reopened
            switch_services.conversation_close(conversation_id=conversation.pk, wrap_up="Survey answered.")
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
    with transaction.atomic():
        survey.save(update_fields=["rating", "comment", "answered_at"])
        _answered(survey, complete=True)
    return survey


def _answered(survey: SurveyResponse, *, complete: bool) -> None:
    """The `survey_answered` hook (bots/hooks.py), inside the answer's transaction."""
    survey_answered.emit(
        SurveyAnswered(
            survey_id=survey.pk,
            conversation_id=survey.conversation_id,
            inbox_id=survey.inbox_id,
            contact_id=survey.contact_id,
            agent_id=survey.agent_id,
            queue_id=survey.queue_id,
            rating=survey.rating,
            comment=survey.comment,
            complete=complete,
            answered_at=survey.answered_at or timezone.now(),
        )
    )
