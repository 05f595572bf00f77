"""The switch's records: inboxes, conversations, messages, widget sessions and canned responses.

Only imsubsystem.services writes conversations and messages (docs/imsubsystem.md).
"""

from __future__ import annotations

import re
import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.models import ChannelKind
from imsubsystem.fields import EncryptedJSONField, EncryptedTextField

_LANGUAGE_TAG = re.compile(r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{1,8})*$")


def language_tag_validate(value: str) -> None:
    if not _LANGUAGE_TAG.match(value or ""):
        raise ValidationError(f"{value!r} is not a language tag like en, fr or zh-Hans.")


# Inboxes take every channel kind except e-mail, which the switch does not speak.
INBOX_KINDS = [(value, label) for value, label in ChannelKind.choices if value != ChannelKind.EMAIL]


def identity_secret_new() -> str:
    """A new identity-validation secret: the key of the HMAC a site makes of its customer's id
    (docs/interface.md, "Identified visitors")."""
    return secrets.token_hex(32)


class Inbox(models.Model):
    kind = models.CharField(max_length=16, choices=INBOX_KINDS)
    key = models.SlugField(max_length=64, unique=True, help_text=_("Public key: in widget URLs and webhook URLs."))
    name = models.CharField(max_length=100)
    default_queue = models.ForeignKey(
        "routing.Queue", null=True, blank=True, on_delete=models.SET_NULL, related_name="inboxes"
    )
    config = models.JSONField(
        default=dict,
        blank=True,
        help_text=_('Non-secret settings, e.g. {"api_base_url": "...", "allowed_origins": ["https://shop.example"]}.'),
    )
    credentials = EncryptedJSONField(default=dict, blank=True, help_text=_("Secrets, encrypted at rest."))
    language = models.CharField(
        max_length=16,
        default="en",
        validators=[language_tag_validate],
        help_text="Default language of its customers (BCP 47, e.g. en, zh-Hans): used when neither the customer's "
        "browser nor their contact record names one, and for texts missing in the customer's language.",
    )
    is_active = models.BooleanField(default=True)
    # Web widget: a site whose customers are logged in sends their id with HMAC-SHA256(identity_secret, id)
    # in hex; only then is the session linked to that customer's contact (imsubsystem.auth).
    identity_secret = EncryptedTextField(
        default=identity_secret_new,
        editable=False,
        verbose_name=_("identity secret"),
        help_text=_("Key of the HMAC-SHA256 of a logged-in customer's id (web widget). Encrypted at rest."),
    )
    identity_required = models.BooleanField(
        default=False,
        verbose_name=_("require identity verification"),
        help_text=_("Web widget: refuse a customer id sent without its valid HMAC."),
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("inbox")
        ordering = ["name"]
        verbose_name_plural = _("inboxes")

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"

    @property
    def allowed_origins(self) -> list[str]:
        origins = self.config.get("allowed_origins") or []
        return [str(o).rstrip("/") for o in origins] if isinstance(origins, list) else []


_HEX_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")


def colour_validate(value: str) -> None:
    """A colour is "#" and six hex digits, nothing else: the console puts it in a style attribute, so only
    a value of this shape may ever reach one (no CSS injection through a label's colour)."""
    if not isinstance(value, str) or not _HEX_COLOUR.match(value):
        raise ValidationError(_("Write a colour as # and six hexadecimal digits, e.g. #1f77b4."))


class Label(models.Model):
    """An admin-defined label that agents set on conversations (docs/imsubsystem.md, "Labels")."""

    name = models.CharField(_("name"), max_length=64, unique=True)
    colour = models.CharField(_("colour"), max_length=7, default="#6b7280", validators=[colour_validate])
    description = models.CharField(_("description"), max_length=200, blank=True)
    is_active = models.BooleanField(
        _("active"), default=True, help_text=_("Inactive labels stay on conversations but cannot be set any more.")
    )

    class Meta:
        verbose_name = _("label")
        verbose_name_plural = _("labels")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs):
        colour_validate(self.colour)
        super().save(*args, **kwargs)


class CloseReason(models.Model):
    """An admin-defined reason an agent picks when closing (docs/imsubsystem.md, "Close reasons")."""

    code = models.SlugField(_("code"), max_length=64, unique=True, help_text=_("What the API's reason_code names."))
    name = models.CharField(_("name"), max_length=100)
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("close reason")
        verbose_name_plural = _("close reasons")
        ordering = ["position", "name"]

    def __str__(self) -> str:
        return self.name


class ConversationStatus(models.TextChoices):
    BOT = "bot", _("With the bot")
    QUEUED = "queued", _("Waiting in a queue")
    OFFERED = "offered", _("Offered to an agent")
    ASSIGNED = "assigned", _("Assigned to an agent")
    CLOSED = "closed", _("Closed")


OPEN_STATUSES = (
    ConversationStatus.BOT,
    ConversationStatus.QUEUED,
    ConversationStatus.OFFERED,
    ConversationStatus.ASSIGNED,
)
WAITING_STATUSES = (ConversationStatus.QUEUED, ConversationStatus.OFFERED)


class Conversation(models.Model):
    contact = models.ForeignKey("crm.Contact", on_delete=models.CASCADE, related_name="conversations")
    inbox = models.ForeignKey(Inbox, on_delete=models.PROTECT, related_name="conversations")
    queue = models.ForeignKey(
        "routing.Queue", null=True, blank=True, on_delete=models.SET_NULL, related_name="conversations"
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_conversations",
    )
    status = models.CharField(max_length=16, choices=ConversationStatus.choices, default=ConversationStatus.QUEUED)
    priority = models.SmallIntegerField(default=0)
    # "<inbox_id>:<contact_id>" while open, NULL once closed: a unique column that allows many NULLs
    # (MySQL has no partial unique index), so one contact never has two open conversations in one inbox
    # even when two webhooks race.
    open_slot = models.CharField(max_length=64, null=True, blank=True, unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    first_queued_at = models.DateTimeField(null=True, blank=True)
    # Start of the current leg: the hand-over to a person, or a transfer to a queue. Offer expiry,
    # rejection and overflow do not start a leg.
    queued_at = models.DateTimeField(null=True, blank=True)
    # The customer's wait clock (docs/supervisor.md, "the customer's wait"): while the conversation
    # waits, now - waiting_since is how long the customer has waited for a person in all, across offers,
    # overflow and transfers. The hand-over sets it to now; a leg after an agent held the conversation
    # sets it to now - waited, so the total carries on. Read it only through selectors.customer_wait_s.
    waiting_since = models.DateTimeField(null=True, blank=True)
    # The customer's total wait when an agent last took the conversation (the reports' wait).
    waited = models.DurationField(null=True, blank=True)
    assigned_at = models.DateTimeField(null=True, blank=True)
    first_agent_reply_at = models.DateTimeField(null=True, blank=True)
    last_message_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    last_seq = models.PositiveIntegerField(default=0)
    customer_last_read_seq = models.PositiveIntegerField(default=0)
    agent_last_read_seq = models.PositiveIntegerField(default=0)
    # Rises by one with every status move (under the row lock); conversation.status frames carry it so
    # a client shows the newest status even when frames from two processes arrive out of order.
    status_version = models.PositiveIntegerField(default=0)
    wrap_up = models.TextField(blank=True)
    # The customer's language, chosen once when the conversation is created (selectors/language.py): the
    # bot, the automatic messages and the widget use it for the whole conversation.
    language = models.CharField(max_length=16, blank=True, default="")
    labels = models.ManyToManyField(Label, blank=True, related_name="conversations")
    close_reason = models.ForeignKey(
        CloseReason, null=True, blank=True, on_delete=models.SET_NULL, related_name="conversations"
    )
    # Snooze (docs/imsubsystem.md, "Snooze"): set while the agent put it aside; `snoozed_until` is the
    # time it comes back (NULL: when the customer writes). `snooze_released`: its work item was let go
    # (the queue does not count snoozed conversations toward capacity), so it comes back through routing.
    snoozed_at = models.DateTimeField(null=True, blank=True)
    snoozed_until = models.DateTimeField(null=True, blank=True)
    snooze_released = models.BooleanField(default=False)
    # The note the last transfer carried for the receiving agent (a private message of this conversation):
    # the offer shows it and the console puts it at the top of the thread. A transfer without a note
    # clears it (services/conversations.py, conversation_transfer).
    transfer_note = models.ForeignKey(
        "Message",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
        verbose_name=_("transfer note"),
    )

    class Meta:
        verbose_name = _("conversation")
        verbose_name_plural = _("conversations")
        ordering = ["-created_at", "-id"]
        permissions = [
            ("handle_conversations", "Can take, answer and close conversations"),
            ("supervise", "Can watch every queue and conversation"),
        ]
        indexes = [
            models.Index(fields=["assignee", "status"], name="im_conv_assignee_status"),
            models.Index(fields=["queue", "status"], name="im_conv_queue_status"),
            models.Index(fields=["status", "queued_at"], name="im_conv_status_queued"),
            models.Index(fields=["contact", "inbox", "closed_at"], name="im_conv_contact_inbox"),
            # The supervisor's figures of a window (today, the last 30 minutes) read only that window's
            # rows, however long the history (docs/supervisor.md, "cost"): its arrivals, and what closed in it.
            models.Index(fields=["first_queued_at"], name="im_conv_first_queued"),
            models.Index(fields=["status", "closed_at"], name="im_conv_status_closed"),
            # The snooze timer reads only the conversations whose time came.
            models.Index(fields=["snoozed_until"], name="im_conv_snoozed_until"),
        ]

    def __str__(self) -> str:
        return f"Conversation #{self.pk} ({self.status})"

    @property
    def is_open(self) -> bool:
        return self.status != ConversationStatus.CLOSED

    @property
    def is_snoozed(self) -> bool:
        return self.snoozed_at is not None


class SenderKind(models.TextChoices):
    CUSTOMER = "customer", _("Customer")
    AGENT = "agent", _("Agent")
    BOT = "bot", _("Bot")
    SYSTEM = "system", _("System")


class DeliveryStatus(models.TextChoices):
    STORED = "stored", _("Stored")
    PENDING = "pending", _("Waiting to go out")
    RETRYING = "retrying", _("Retrying")
    SENT = "sent", _("Sent to the platform")
    DELIVERED = "delivered", _("Delivered")
    READ = "read", _("Read")
    FAILED = "failed", _("Failed")


class Message(models.Model):
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="messages")
    # Denormalised from the conversation so a platform message id is unique per inbox.
    inbox = models.ForeignKey(Inbox, on_delete=models.PROTECT, related_name="+")
    seq = models.PositiveIntegerField()
    sender_kind = models.CharField(max_length=16, choices=SenderKind.choices)
    sender_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # "customer", "bot", "system" or "agent:<user id>": never NULL, so the unique (conversation,
    # sender_key, client_id) constraint holds on MySQL, where NULLs in a unique key never collide.
    sender_key = models.CharField(max_length=32, editable=False)
    client_id = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001 - NULL: no idempotency key
    text = models.TextField(blank=True)
    attachments = models.JSONField(default=list, blank=True, help_text=_("Ids of media.Attachment rows."))
    buttons = models.JSONField(
        default=list, blank=True, help_text=_('Choices under a bot message: [{"label": ..., "value": ...}].')
    )
    private = models.BooleanField(default=False, help_text=_("An internal note: staff only."))
    # NULL for messages not from a platform: many NULLs never collide in the unique key.
    platform_message_id = models.CharField(max_length=191, null=True, blank=True)  # noqa: DJ001
    delivery_status = models.CharField(max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.STORED)
    delivery_error = models.TextField(blank=True)
    # While the platform send is retrying: when the next attempt is due.
    delivery_retry_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True, help_text=_("When the platform says it was sent."))

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        ordering = ["conversation_id", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["conversation", "seq"], name="im_message_unique_seq"),
            models.UniqueConstraint(
                fields=["conversation", "sender_key", "client_id"], name="im_message_unique_client_id"
            ),
            models.UniqueConstraint(fields=["inbox", "platform_message_id"], name="im_message_unique_platform_id"),
        ]
        # The write path's duplicate check finds a customer's client_id in any of the contact's
        # conversations (services/rows.py, message_keys_read): by this index it reads the batch's
        # matches, not every message of those conversations.
        indexes = [models.Index(fields=["client_id"], name="im_message_client_id")]

    def __str__(self) -> str:
        return f"#{self.conversation_id}.{self.seq} {self.sender_kind}"


class MessageToken(models.Model):
    """The message search's index (docs/imsubsystem.md, "Search"): one row per distinct token of a
    message's text (imsubsystem/search.py), written with the message by the one write path.

    Keyed by (message, token), so a message's rows are appended together and a deleted message's rows
    go with one range; looked up through (token, message), newest message first, by the index below.
    No foreign-key constraint (no parent check per row on the hot path): Django's cascade deletes a
    message's tokens, and a search joins the message, so a row left behind by a raw delete is never
    shown."""

    pk = models.CompositePrimaryKey("message", "token")
    message = models.ForeignKey(
        Message, on_delete=models.CASCADE, db_constraint=False, db_index=False, related_name="+"
    )
    token = models.BigIntegerField()

    class Meta:
        indexes = [models.Index(fields=["token", "message"], name="im_msgtoken_token")]

    def __str__(self) -> str:
        return f"{self.token} in message #{self.message_id}"


def sender_key_for(*, sender_kind: str, sender_user_id: int | None) -> str:
    if sender_kind == SenderKind.AGENT:
        return f"agent:{sender_user_id}"
    return str(sender_kind)


class WidgetSession(models.Model):
    """A web-widget visitor's login: the token itself is never stored, only its SHA-256."""

    token_hash = models.CharField(max_length=64, unique=True)
    contact = models.ForeignKey("crm.Contact", on_delete=models.CASCADE, related_name="widget_sessions")
    inbox = models.ForeignKey(Inbox, on_delete=models.CASCADE, related_name="widget_sessions")
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    # What the widget tells of the visitor's page and browser (imsubsystem.visitor: bounded, checked),
    # shown beside their conversation; replaced as they move from page to page.
    context = models.JSONField(_("visitor context"), default=dict, blank=True)
    context_updated_at = models.DateTimeField(_("visitor context updated at"), null=True, blank=True)

    class Meta:
        verbose_name = _("widget session")
        verbose_name_plural = _("widget sessions")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Widget session #{self.pk} of contact #{self.contact_id}"


class CannedResponse(models.Model):
    shortcut = models.SlugField(max_length=64, help_text=_("Typed after a slash in the console, e.g. /refund."))
    title = models.CharField(max_length=200)
    text = models.TextField(help_text="The text in the inbox's default language (or any, without a translation).")
    translations = models.JSONField(
        default=dict,
        blank=True,
        help_text='The text in other languages: {"zh-Hans": "...", "fr": "..."}. The console inserts the one in '
        "the conversation's language, else the text above.",
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="canned_responses",
        help_text=_("Empty: shared with every agent."),
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("canned response")
        verbose_name_plural = _("canned responses")
        ordering = ["shortcut"]
        indexes = [models.Index(fields=["owner", "shortcut"], name="im_canned_owner_shortcut")]

    def __str__(self) -> str:
        return f"/{self.shortcut}"

    def clean(self) -> None:
        if not isinstance(self.translations, dict) or not all(
            isinstance(k, str) and _LANGUAGE_TAG.match(k) and isinstance(v, str) for k, v in self.translations.items()
        ):
            raise ValidationError({"translations": 'Write translations like {"zh-Hans": "您好", "fr": "Bonjour"}.'})
        clash = CannedResponse.objects.filter(shortcut=self.shortcut, owner=self.owner).exclude(pk=self.pk)
        if clash.exists():
            raise ValidationError({"shortcut": _("This shortcut is already used.")})


class NotificationKind(models.TextChoices):
    MENTION = "mention", _("Mention")


class Notification(models.Model):
    """Something a staff member should see, kept until they mark it read: for now, being @mentioned in an
    internal note (services/notifications.py). A mention also lets the mentioned person see the conversation
    (selectors/visibility.py, the one rule)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=16, choices=NotificationKind.choices)
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="notifications")
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="notifications")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("mentioned by"),
    )
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True, verbose_name=_("read at"))

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["message", "user", "kind"], name="im_notification_once"),
        ]
        indexes = [
            models.Index(fields=["user", "read_at"], name="im_notification_unread"),
            models.Index(fields=["conversation", "user", "kind"], name="im_notification_conv"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} for user {self.user_id} in conversation #{self.conversation_id}"
