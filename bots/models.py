"""Automatic responses: business hours, bot flows and their steps, FAQ entries, and what the bots record
(per-conversation state, FAQ matches and misses, survey answers). Conversations are known by id only:
the switch owns them (docs/bots.md).

One module (under 400 lines) as Django expects of an app's tables: the configuration (hours, flows, FAQ)
and the records (sessions, FAQ log, surveys) point at each other by foreign key, and the migrations name
them all as bots.models."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from bots.fields import TranslatedTextField
from bots.hours import ScheduleError, zone_get


def _timezone_validate(value: str) -> None:
    try:
        zone_get(value)
    except ScheduleError as exc:
        raise ValidationError(str(exc)) from None


class BusinessHours(models.Model):
    """A weekly schedule in its own timezone, with holidays and special days. Queues point at one through
    routing.Queue.business_hours_id; a flow may name one for its inbox."""

    name = models.CharField(max_length=100, unique=True)
    timezone = models.CharField(
        max_length=64, default="UTC", validators=[_timezone_validate], help_text=_("IANA name, e.g. Europe/Paris.")
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("business hours")
        verbose_name_plural = _("business hours")

    def __str__(self) -> str:
        return f"{self.name} ({self.timezone})"


class Weekday(models.IntegerChoices):
    MONDAY = 0, _("Monday")
    TUESDAY = 1, _("Tuesday")
    WEDNESDAY = 2, _("Wednesday")
    THURSDAY = 3, _("Thursday")
    FRIDAY = 4, _("Friday")
    SATURDAY = 5, _("Saturday")
    SUNDAY = 6, _("Sunday")


class WeeklyHours(models.Model):
    """One opening span on a weekday, local time. Several spans a day make a lunch break; a closing time at
    or before the opening time ends the next day."""

    schedule = models.ForeignKey(BusinessHours, on_delete=models.CASCADE, related_name="weekly")
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    opens = models.TimeField()
    closes = models.TimeField(help_text=_("At or before the opening time: closes the next day (00:00 = midnight)."))

    class Meta:
        verbose_name = _("weekly hours")
        ordering = ["schedule", "weekday", "opens"]
        verbose_name_plural = _("weekly hours")

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.opens:%H:%M}-{self.closes:%H:%M}"


class SpecialDay(models.Model):
    """A holiday (no hours: closed all day) or a day with its own hours, replacing the weekly ones."""

    schedule = models.ForeignKey(BusinessHours, on_delete=models.CASCADE, related_name="special_days")
    date = models.DateField()
    name = models.CharField(max_length=100, blank=True)
    opens = models.TimeField(null=True, blank=True)
    closes = models.TimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("special day")
        verbose_name_plural = _("special days")
        ordering = ["schedule", "date", "opens"]

    def __str__(self) -> str:
        if self.opens is None:
            return f"{self.date} closed"
        return f"{self.date} {self.opens:%H:%M}-{self.closes:%H:%M}"

    def clean(self) -> None:
        if (self.opens is None) != (self.closes is None):
            raise ValidationError(_("Give both the opening and the closing time, or neither (closed all day)."))


class BotFlow(models.Model):
    """What the bot does in one inbox: the welcome, the ordered steps, the FAQ and the automatic messages.

    Every text may carry translations; an empty text uses the built-in one (bots/texts.py DEFAULT_TEXTS).
    """

    inbox = models.OneToOneField("imsubsystem.Inbox", on_delete=models.CASCADE, related_name="bot_flow")
    name = models.CharField(max_length=100)
    is_active = models.BooleanField(default=True, help_text=_("Off: new conversations go straight to the queue."))
    language = models.CharField(
        max_length=16, default="en", help_text=_("Used when a text has no translation in the contact's language.")
    )
    business_hours = models.ForeignKey(
        BusinessHours,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="flows",
        help_text=_("Hours of the inbox, for queues that have none of their own. Empty: always open."),
    )
    handover_words = models.TextField(
        blank=True,
        help_text=_(
            "Words that hand over to a person at any step, one per line or comma-separated. "
            "Empty: agent, human, person, operator, humain, conseiller, 人工, 客服."
        ),
    )
    max_attempts = models.PositiveSmallIntegerField(
        default=3,
        validators=[MinValueValidator(1)],
        help_text=_("Answers not understood in a row before handing over."),
    )
    faq_enabled = models.BooleanField(default=True)
    faq_threshold = models.PositiveSmallIntegerField(
        default=70,
        validators=[MaxValueValidator(100)],
        help_text=_(
            "Score (0-100) from which an FAQ answer is given. Raise it if answers miss the point; lower it "
            "if the FAQ log shows near misses (docs/bots.md)."
        ),
    )
    after_hours_priority = models.SmallIntegerField(
        default=10, help_text=_("Priority of a message left out of hours, so it is first in line at opening.")
    )
    queue_update_every_s = models.PositiveIntegerField(
        default=120, help_text=_("Seconds between queue position messages while waiting (0: never).")
    )
    idle_reminder_after_s = models.PositiveIntegerField(
        default=300, help_text=_("Remind a silent customer after this many seconds (0: never).")
    )
    idle_close_after_s = models.PositiveIntegerField(
        default=600, help_text=_("Close this many seconds after the reminder if still silent (0: never).")
    )
    idle_when_assigned = models.BooleanField(
        default=False, help_text=_("Also remind and close when an agent is waiting for the customer.")
    )
    survey_enabled = models.BooleanField(default=True, help_text=_("Ask for a 1-5 rating and a comment on close."))
    closed_notice = models.BooleanField(
        default=True, help_text=_("Tell a customer who starts out of hours when the inbox opens again.")
    )

    welcome = TranslatedTextField(help_text=_('Plain text, or {"en": "...", "fr": "..."}.'))
    handover = TranslatedTextField()
    not_understood = TranslatedTextField()
    out_of_hours = TranslatedTextField(help_text=_("Placeholder {next_open}: the next opening time."))
    message_left = TranslatedTextField()
    queue_position = TranslatedTextField(help_text=_("Placeholders {position} and {eta}."))
    agent_joined = TranslatedTextField(help_text=_("Placeholder {agent}."))
    idle_reminder = TranslatedTextField()
    idle_closed = TranslatedTextField()
    survey_rating = TranslatedTextField()
    survey_comment = TranslatedTextField()
    survey_thanks = TranslatedTextField()
    goodbye = TranslatedTextField()

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    TEXT_FIELDS = (
        "welcome",
        "handover",
        "not_understood",
        "out_of_hours",
        "message_left",
        "queue_position",
        "agent_joined",
        "idle_reminder",
        "idle_closed",
        "survey_rating",
        "survey_comment",
        "survey_thanks",
        "goodbye",
    )

    class Meta:
        verbose_name = _("bot flow")
        verbose_name_plural = _("bot flows")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class StepKind(models.TextChoices):
    MESSAGE = "message", _("Message")
    QUESTION = "question", _("Question with options")
    CAPTURE = "capture", _("Capture into a contact field")
    HANDOVER = "handover", _("Hand over to a person")
    END = "end", _("End")


class CaptureField(models.TextChoices):
    NAME = "name", _("Name")
    EMAIL = "email", _("E-mail")
    PHONE = "phone", _("Phone")
    ORDER_NUMBER = "order_number", _("Order number")


step_key_validator = RegexValidator(r"^[a-z0-9_-]+$", _("Use lower-case letters, digits, - and _."))


class FlowStep(models.Model):
    flow = models.ForeignKey(BotFlow, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveSmallIntegerField(default=0)
    key = models.CharField(max_length=40, validators=[step_key_validator], help_text=_("Name other steps jump to."))
    kind = models.CharField(max_length=16, choices=StepKind.choices)
    text = TranslatedTextField(help_text=_('What the customer sees. Plain text, or {"en": "...", "fr": "..."}.'))
    options = models.JSONField(
        default=list,
        blank=True,
        help_text=_(
            'Questions: [{"label": "Sales" or {"en": ..}, "queue": "Sales", "skills": ["billing"], '
            '"next": "step-key"}]. queue (name or id) and skills route the hand-over.'
        ),
    )
    capture_field = models.CharField(max_length=16, choices=CaptureField.choices, blank=True)
    invalid_text = TranslatedTextField(help_text=_("Re-ask text for a bad answer (empty: the built-in one)."))
    queue = models.ForeignKey(
        "routing.Queue",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text=_("Hand-over steps: the queue (empty: the one chosen earlier, else the inbox's default)."),
    )
    skills = models.JSONField(default=list, blank=True, help_text=_('Hand-over steps: skill names, e.g. ["billing"].'))
    next_step = models.CharField(
        max_length=40, blank=True, help_text=_("Key of the step that follows (empty: the next one in order).")
    )

    class Meta:
        verbose_name = _("flow step")
        verbose_name_plural = _("flow steps")
        ordering = ["flow", "position", "id"]
        constraints = [models.UniqueConstraint(fields=["flow", "key"], name="bots_step_unique_key")]

    def __str__(self) -> str:
        return f"{self.key} ({self.kind})"


class FaqEntry(models.Model):
    inbox = models.ForeignKey(
        "imsubsystem.Inbox",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        help_text=_("Empty: answers in every inbox."),
    )
    title = models.CharField(max_length=200)
    phrasings = models.TextField(help_text=_("Ways customers ask it, one per line, in any language."))
    keywords = models.CharField(max_length=300, blank=True, help_text=_("Comma-separated words that point here."))
    answer = TranslatedTextField(help_text=_('Plain text, or {"en": "...", "fr": "..."}.'))
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["title"]
        verbose_name = _("FAQ entry")
        verbose_name_plural = _("FAQ entries")

    def __str__(self) -> str:
        return self.title

    @property
    def phrasing_list(self) -> list[str]:
        return [line.strip() for line in self.phrasings.splitlines() if line.strip()]

    @property
    def keyword_list(self) -> list[str]:
        return [word.strip() for word in self.keywords.split(",") if word.strip()]


class FaqLog(models.Model):
    """Every FAQ attempt, matched or missed, for admins tuning entries and the threshold."""

    inbox_id = models.BigIntegerField(db_index=True)
    conversation_id = models.BigIntegerField()
    query = models.TextField()
    entry = models.ForeignKey(FaqEntry, null=True, blank=True, on_delete=models.SET_NULL, related_name="logs")
    score = models.FloatField()
    matched = models.BooleanField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = _("FAQ log lines")
        ordering = ["-created_at", "-id"]
        verbose_name = _("FAQ log line")
        indexes = [models.Index(fields=["matched", "created_at"], name="bots_faqlog_matched")]

    def __str__(self) -> str:
        return f"{'hit' if self.matched else 'miss'} {self.score:.0f}: {self.query[:60]}"


class SurveyStage(models.TextChoices):
    NONE = "", _("None")
    RATING = "rating", _("Waiting for the rating")
    COMMENT = "comment", _("Waiting for the comment")


class BotSession(models.Model):
    """The bot's memory of one conversation: where the flow is, what it is waiting for, its timers."""

    conversation_id = models.BigIntegerField(unique=True)
    inbox_id = models.BigIntegerField()
    contact_id = models.BigIntegerField()
    flow = models.ForeignKey(BotFlow, null=True, blank=True, on_delete=models.SET_NULL, related_name="sessions")
    state = models.JSONField(default=dict, blank=True)
    # The last customer message the bot answered: a redelivered task or an older message is skipped.
    handled_seq = models.PositiveIntegerField(default=0)
    # Set when a customer message is handed to a worker, cleared when answered: the watchdog's clock.
    pending_since = models.DateTimeField(null=True, blank=True, db_index=True)
    handed_over_at = models.DateTimeField(null=True, blank=True)
    last_customer_at = models.DateTimeField(null=True, blank=True)
    # The last time someone other than the customer wrote (bot or agent): the customer's turn since then.
    last_reply_at = models.DateTimeField(null=True, blank=True)
    reminded_at = models.DateTimeField(null=True, blank=True)
    queue_update_at = models.DateTimeField(null=True, blank=True)
    queue_position = models.PositiveIntegerField(null=True, blank=True)
    joined_agent_id = models.BigIntegerField(null=True, blank=True)
    survey_stage = models.CharField(max_length=16, choices=SurveyStage.choices, blank=True, default="")
    survey = models.ForeignKey("SurveyResponse", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("bot session")
        verbose_name_plural = _("bot sessions")
        ordering = ["-updated_at"]

    def __str__(self) -> str:
        return f"Bot session of conversation #{self.conversation_id}"


class SurveyResponse(models.Model):
    """A satisfaction survey sent when a conversation closed, and the customer's answers."""

    conversation_id = models.BigIntegerField(db_index=True)
    inbox_id = models.BigIntegerField()
    contact_id = models.BigIntegerField()
    agent_id = models.BigIntegerField(null=True, blank=True)
    queue_id = models.BigIntegerField(null=True, blank=True)
    rating = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(5)]
    )
    comment = models.TextField(blank=True)
    sent_at = models.DateTimeField()
    delivered = models.BooleanField(default=True, help_text=_("False when the question could not reach the customer."))
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("survey response")
        verbose_name_plural = _("survey responses")
        ordering = ["-sent_at", "-id"]

    def __str__(self) -> str:
        return f"Survey of conversation #{self.conversation_id}: {self.rating or '-'}"
