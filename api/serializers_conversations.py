"""Conversations and messages of the integrator API as JSON, and the bodies their actions take.

A conversation names its inbox, contact, queue and agent by id and name. A message is the switch's one
payload (imsubsystem.selectors.message_payload), the same the console and its socket get, without
attachment links (those work only in the staff pages' own session). Everything a customer wrote leaves
as a JSON string: JSON escapes it, and no field is HTML.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from imsubsystem.models import Conversation, SenderKind
from imsubsystem.selectors import user_display_name
from imsubsystem.visitor import visitor_context_of_conversation


class TextField(serializers.CharField):
    """Text as JSON text only: a number or a boolean is `invalid`, not turned into a string."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class RefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class InboxRefSerializer(RefSerializer):
    kind = serializers.CharField()


class LabelRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    colour = serializers.RegexField(r"^#[0-9a-fA-F]{6}$", help_text="# and six hexadecimal digits.")


class ConversationSerializer(serializers.ModelSerializer):
    """A conversation; read it with contact, inbox, queue, assignee and close reason selected and its labels
    prefetched (a few queries for a page)."""

    inbox = serializers.SerializerMethodField()
    contact = serializers.SerializerMethodField()
    queue = serializers.SerializerMethodField()
    assignee = serializers.SerializerMethodField()
    labels = serializers.SerializerMethodField()
    close_reason = serializers.SerializerMethodField()
    snoozed = serializers.SerializerMethodField()

    class Meta:
        model = Conversation
        fields = [
            "id",
            "status",
            "inbox",
            "contact",
            "queue",
            "assignee",
            "priority",
            "last_seq",
            "created_at",
            "first_queued_at",
            "assigned_at",
            "first_agent_reply_at",
            "last_message_at",
            "closed_at",
            "wrap_up",
            "status_version",
            "labels",
            "close_reason",
            "snoozed",
            "snoozed_until",
        ]
        read_only_fields = fields

    @extend_schema_field(LabelRefSerializer(many=True))
    def get_labels(self, conversation: Conversation) -> list[dict]:
        return [{"id": label.pk, "name": label.name, "colour": label.colour} for label in conversation.labels.all()]

    @extend_schema_field(serializers.CharField(allow_null=True, help_text="The code of the close reason picked."))
    def get_close_reason(self, conversation: Conversation) -> str | None:
        return conversation.close_reason.code if conversation.close_reason_id else None

    @extend_schema_field(serializers.BooleanField(help_text="Snoozed: out of its agent's active list for now."))
    def get_snoozed(self, conversation: Conversation) -> bool:
        return conversation.snoozed_at is not None

    @extend_schema_field(InboxRefSerializer)
    def get_inbox(self, conversation: Conversation) -> dict:
        inbox = conversation.inbox
        return {"id": inbox.pk, "kind": inbox.kind, "name": inbox.name}

    @extend_schema_field(RefSerializer)
    def get_contact(self, conversation: Conversation) -> dict:
        return {"id": conversation.contact_id, "name": conversation.contact.display_name}

    @extend_schema_field(RefSerializer(allow_null=True))
    def get_queue(self, conversation: Conversation) -> dict | None:
        if conversation.queue_id is None:
            return None
        return {"id": conversation.queue_id, "name": conversation.queue.name}

    @extend_schema_field(RefSerializer(allow_null=True))
    def get_assignee(self, conversation: Conversation) -> dict | None:
        if conversation.assignee_id is None:
            return None
        return {"id": conversation.assignee_id, "name": user_display_name(conversation.assignee)}


class VisitedPageSerializer(serializers.Serializer):
    url = serializers.CharField()
    title = serializers.CharField()
    at = serializers.DateTimeField(allow_null=True)


class VisitorContextSerializer(serializers.Serializer):
    """What the web widget told of the visitor (docs/protocol.md, "Visitor context"): every text is the
    visitor's browser's word, bounded but not vouched for."""

    url = serializers.CharField(help_text="The page the visitor is on (the latest the widget told).")
    title = serializers.CharField()
    referrer = serializers.CharField()
    browser = serializers.CharField(help_text="From the User-Agent, e.g. Chrome 120; empty when unknown.")
    os = serializers.CharField(help_text="From the User-Agent, e.g. Windows 10/11; empty when unknown.")
    language = serializers.CharField(help_text="The browser's language tag.")
    timezone = serializers.CharField(help_text="The browser's IANA time zone.")
    custom_attributes = serializers.DictField(
        help_text="What the embedding site passed: texts, numbers, booleans or null, at most 20 keys."
    )
    pages = VisitedPageSerializer(many=True, help_text="The last pages seen, newest first (at most 10).")
    updated_at = serializers.DateTimeField(allow_null=True)


class ConversationDetailSerializer(ConversationSerializer):
    """One conversation read alone: with the web visitor's context."""

    visitor = serializers.SerializerMethodField()

    class Meta(ConversationSerializer.Meta):
        fields = [*ConversationSerializer.Meta.fields, "visitor"]
        read_only_fields = fields

    @extend_schema_field(VisitorContextSerializer(allow_null=True))
    def get_visitor(self, conversation: Conversation) -> dict | None:
        return visitor_context_of_conversation(conversation_id=conversation.pk)


# --- Actions' bodies ----------------------------------------------------------------------------------
class AssignSerializer(serializers.Serializer):
    agent_id = serializers.IntegerField(min_value=1, help_text="The agent (a user id) who takes the conversation.")


class TransferSerializer(serializers.Serializer):
    queue_id = serializers.IntegerField(min_value=1, required=False, help_text="Give this or agent_id.")
    agent_id = serializers.IntegerField(min_value=1, required=False, help_text="Give this or queue_id.")
    note = TextField(
        required=False,
        allow_blank=True,
        max_length=4000,
        trim_whitespace=False,
        help_text="A note for the receiving agent: stored as an internal note after the transfer (staff only, "
        "never the customer) and shown in the receiving agent's offer and at the top of the conversation.",
    )

    def validate(self, data):
        if ("queue_id" in data) == ("agent_id" in data):
            raise serializers.ValidationError("Give exactly one of queue_id or agent_id.")
        return data


class CloseSerializer(serializers.Serializer):
    reason = TextField(
        required=False,
        allow_blank=True,
        max_length=10000,
        trim_whitespace=False,
        help_text="Why it was closed: kept as the conversation's wrap-up note.",
    )
    reason_code = TextField(
        required=False,
        allow_blank=True,
        max_length=64,
        help_text="The code of one of the admin's close reasons (GET /api/rest/v1/close-reasons), as well as or "
        "instead of `reason`.",
    )


class LabelsSetSerializer(serializers.Serializer):
    label_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        max_length=20,
        allow_empty=True,
        help_text="The conversation's labels from now on (ids of active labels; [] removes them all).",
    )


class SnoozeSerializer(serializers.Serializer):
    until = serializers.DateTimeField(
        required=False,
        allow_null=True,
        default=None,
        help_text="When it comes back (ISO 8601, in the future, within a year). Absent or null: when the "
        "customer writes. The customer writing brings it back earlier either way.",
    )


# --- Messages -----------------------------------------------------------------------------------------
class SenderSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=SenderKind.choices)
    name = serializers.CharField()
    id = serializers.IntegerField(required=False, help_text="The agent's user id (agents only).")


class AttachmentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField(required=False)
    content_type = serializers.CharField(required=False)
    size = serializers.IntegerField(required=False)
    status = serializers.CharField()


class ButtonSerializer(serializers.Serializer):
    label = serializers.CharField()
    value = serializers.CharField()


class MessageSerializer(serializers.Serializer):
    """The switch's message payload (docs/protocol.md, `message.new`). Documents the answer; the views
    return the payload itself, as the console's API does."""

    id = serializers.IntegerField()
    conversation_id = serializers.IntegerField()
    seq = serializers.IntegerField(help_text="1, 2, 3... in the conversation, without gaps.")
    client_id = serializers.CharField(allow_null=True)
    sender = SenderSerializer()
    text = serializers.CharField(allow_blank=True)
    attachments = AttachmentSerializer(many=True)
    private = serializers.BooleanField(help_text="An internal note: staff see it, the customer never does.")
    created_at = serializers.DateTimeField()
    delivery_status = serializers.CharField()
    delivery_error = serializers.CharField(required=False)
    delivery_retry_at = serializers.DateTimeField(required=False)
    buttons = ButtonSerializer(many=True, required=False)


class MessagePageSerializer(serializers.Serializer):
    conversation_id = serializers.IntegerField()
    last_seq = serializers.IntegerField(help_text="The conversation's newest seq when the page was read.")
    order = serializers.ChoiceField(choices=["oldest_first", "newest_first"])
    next = serializers.URLField(allow_null=True, help_text="The next page in the same direction; null at the end.")
    results = MessageSerializer(many=True)


class MessageSendSerializer(serializers.Serializer):
    text = TextField(allow_blank=True, trim_whitespace=False, help_text="The message (plain text).")
    private = serializers.BooleanField(
        default=False, help_text="An internal note: seen by staff, never sent to the customer."
    )
    mentions = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**63 - 1),
        required=False,
        default=list,
        max_length=20,
        help_text="Colleagues (user ids) @mentioned in an internal note: each is notified and may see the "
        "conversation. Someone who may not be mentioned refuses the note (`invalid`).",
    )
    sender = serializers.ChoiceField(
        choices=["agent", "bot"],
        default="agent",
        help_text="`agent`: sent as the calling user. `bot`: sent as the inbox's assistant (supervisors and "
        "admins only).",
    )
    client_id = TextField(
        required=False,
        max_length=64,
        help_text="Your id for this message: a retry with the same one stores nothing new and answers the "
        "first message. The Idempotency-Key header is used when this is absent.",
    )
    attachment_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1), required=False, max_length=10, default=list
    )


class TemplateSerializer(serializers.Serializer):
    name = TextField(max_length=512, help_text="An approved template of the inbox (WhatsApp).")
    language = TextField(max_length=16, help_text="The template's language code, e.g. `en_US`.")
    params = serializers.ListField(child=TextField(max_length=1024), required=False, default=list, max_length=20)


class ConversationStartSerializer(serializers.Serializer):
    contact_id = serializers.IntegerField(min_value=1)
    inbox_id = serializers.IntegerField(min_value=1)
    text = TextField(
        required=False,
        trim_whitespace=False,
        help_text="The first message as text: Telegram, SMS, the web widget, and WhatsApp inside the 24-hour window.",
    )
    template = TemplateSerializer(
        required=False, help_text="An approved template instead of text: WhatsApp outside the 24-hour window."
    )
    client_id = TextField(
        required=False,
        max_length=64,
        help_text="Your id for this start: a retry with the same one answers the first conversation. The "
        "Idempotency-Key header is used when this is absent.",
    )


class ConversationStartedSerializer(serializers.Serializer):
    conversation = ConversationSerializer()
    created = serializers.BooleanField(help_text="False: a retry, or the contact's open conversation in that inbox.")
    message = MessageSerializer(help_text="The first message, as stored.")
