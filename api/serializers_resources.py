"""The integrator API's contacts, queues, teams, agents, canned responses and reports as JSON. Each
serializer names its fields; what a caller may write is checked here (types, lengths, storable text) and
then by the owning app's service, which has the last word."""

from __future__ import annotations

from rest_framework import serializers

from core.text import json_unstorable_path, unstorable_detail
from crm.models import ChannelKind, Company, Contact, ContactIdentity
from imsubsystem.models import CannedResponse
from routing.models import AgentStatus, Queue
from supervisor.models import Team


class StorableInput(serializers.Serializer):
    """Refuses a body holding text that cannot be stored (a lone surrogate, core/text.py) as `invalid`."""

    def to_internal_value(self, data):
        path = json_unstorable_path(data)
        if path is not None:
            raise serializers.ValidationError({path: [unstorable_detail(path)]})
        return super().to_internal_value(data)


# --- contacts ---------------------------------------------------------------------------------------------
class IdentitySerializer(serializers.ModelSerializer):
    class Meta:
        model = ContactIdentity
        fields = ["id", "kind", "external_id", "display_name", "created_at", "last_seen_at"]
        read_only_fields = fields


class IdentityCreateSerializer(StorableInput):
    kind = serializers.ChoiceField(choices=ChannelKind.choices)
    external_id = serializers.CharField(max_length=191)
    display_name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class ContactSerializer(serializers.ModelSerializer):
    display_name = serializers.CharField(read_only=True)
    emails = serializers.ListField(child=serializers.EmailField())
    phones = serializers.ListField(child=serializers.CharField())
    company = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)
    tags = serializers.SerializerMethodField()
    identities = IdentitySerializer(many=True, read_only=True)

    class Meta:
        model = Contact
        fields = [
            "id",
            "name",
            "display_name",
            "emails",
            "phones",
            "language",
            "timezone",
            "company",
            "custom_attributes",
            "tags",
            "identities",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_tags(self, contact: Contact) -> list[str]:
        return sorted(tag.name for tag in contact.tags.all())


class ContactWriteSerializer(StorableInput):
    """What a caller may set on a contact (crm.services.EDITABLE_FIELDS, and the tags)."""

    name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    emails = serializers.ListField(child=serializers.EmailField(max_length=254), required=False, max_length=20)
    phones = serializers.ListField(
        child=serializers.CharField(max_length=64, allow_blank=False), required=False, max_length=20
    )
    language = serializers.CharField(max_length=16, required=False, allow_blank=True)
    timezone = serializers.CharField(max_length=64, required=False, allow_blank=True)
    company = serializers.PrimaryKeyRelatedField(queryset=Company.objects.all(), required=False, allow_null=True)
    custom_attributes = serializers.DictField(required=False)
    tags = serializers.ListField(
        child=serializers.CharField(max_length=64, allow_blank=False),
        required=False,
        max_length=50,
        help_text="Every tag of the contact (replaces them); a new name makes a new tag.",
    )


class ContactMergeSerializer(StorableInput):
    contact_id = serializers.IntegerField(
        min_value=1, help_text="The contact folded into this one (it is deleted; its records move here)."
    )


class ContactMergeResultSerializer(serializers.Serializer):
    contact = ContactSerializer()
    merged_contact_id = serializers.IntegerField()
    moved = serializers.DictField(child=serializers.IntegerField(), help_text="What moved, per kind of record.")
    merged_at = serializers.DateTimeField()


# --- queues, teams, agents --------------------------------------------------------------------------------
class QueueSerializer(serializers.ModelSerializer):
    skills_required = serializers.SlugRelatedField(slug_field="name", many=True, read_only=True)
    overflow_queue = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)
    waiting = serializers.SerializerMethodField(help_text="Conversations waiting now (queued or offered).")
    longest_wait_s = serializers.SerializerMethodField(help_text="The longest customer's wait now, in seconds.")
    active = serializers.SerializerMethodField(help_text="Conversations assigned now.")

    class Meta:
        model = Queue
        fields = [
            "id",
            "name",
            "policy",
            "is_active",
            "skills_required",
            "service_level_threshold_s",
            "max_wait_s",
            "overflow_queue",
            "offer_timeout_s",
            "waiting",
            "longest_wait_s",
            "active",
        ]
        read_only_fields = fields

    def _live(self, queue: Queue) -> dict:
        return self.context.get("live", {}).get(queue.pk, {})

    def get_waiting(self, queue: Queue) -> int:
        return int(self._live(queue).get("waiting", 0))

    def get_longest_wait_s(self, queue: Queue) -> int:
        return int(self._live(queue).get("longest_wait_s", 0))

    def get_active(self, queue: Queue) -> int:
        return int(self._live(queue).get("active", 0))


class TeamSerializer(serializers.ModelSerializer):
    queues = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    supervisors = serializers.PrimaryKeyRelatedField(many=True, read_only=True)

    class Meta:
        model = Team
        fields = ["id", "name", "queues", "supervisors"]
        read_only_fields = fields


class AgentSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="The agent's user id.")
    username = serializers.CharField()
    name = serializers.CharField()
    status = serializers.ChoiceField(choices=AgentStatus.choices, help_text="The presence the agent chose.")
    connected = serializers.BooleanField(help_text="Whether a console of theirs is live (or within the grace).")
    presence = serializers.ChoiceField(
        choices=[*AgentStatus.values, "disconnected"],
        help_text="What the dashboards show: the chosen status, or `disconnected` without a console.",
    )
    status_changed_at = serializers.DateTimeField(allow_null=True)
    queue_ids = serializers.ListField(child=serializers.IntegerField(), help_text="The queues they serve that you see.")
    default_capacity = serializers.IntegerField()
    capacity = serializers.DictField(child=serializers.IntegerField(), help_text="Conversations at once, per channel.")
    load = serializers.IntegerField(help_text="Conversations held or offered now.")
    load_by_kind = serializers.DictField(child=serializers.IntegerField())


class PresenceSerializer(StorableInput):
    status = serializers.ChoiceField(choices=AgentStatus.choices)


# --- canned responses -------------------------------------------------------------------------------------
class CannedResponseSerializer(serializers.ModelSerializer):
    shared = serializers.SerializerMethodField()

    class Meta:
        model = CannedResponse
        fields = ["id", "shortcut", "title", "text", "translations", "shared", "created_at"]
        read_only_fields = fields

    def get_shared(self, canned: CannedResponse) -> bool:
        return canned.owner_id is None


class CannedResponseWriteSerializer(StorableInput):
    shortcut = serializers.SlugField(max_length=64)
    title = serializers.CharField(max_length=200)
    text = serializers.CharField(max_length=10000)
    translations = serializers.DictField(
        child=serializers.CharField(max_length=10000),
        required=False,
        help_text='The text in other languages, {"zh-Hans": "...", "fr": "..."}: the console inserts the one of the '
        "conversation's language, else `text` (written in the inbox's default language).",
    )
    shared = serializers.BooleanField(
        default=False, help_text="Shared with every agent; otherwise yours only. Set when made, not changed after."
    )


# --- reports ----------------------------------------------------------------------------------------------
class ReportRowSerializer(serializers.Serializer):
    period_start = serializers.DateTimeField()
    id = serializers.IntegerField(help_text="The queue's or the agent's id.")
    name = serializers.CharField()
    volume = serializers.IntegerField()
    answered = serializers.IntegerField()
    abandoned = serializers.IntegerField()
    abandonment = serializers.FloatField(allow_null=True)
    service_level = serializers.FloatField(allow_null=True)
    average_wait_s = serializers.FloatField(allow_null=True)
    first_response_s = serializers.FloatField(allow_null=True)
    handle_s = serializers.FloatField(allow_null=True)
    resolved = serializers.IntegerField()
    resolution = serializers.FloatField(allow_null=True)
    satisfaction = serializers.FloatField(allow_null=True)
    rated = serializers.IntegerField()


class ReportSerializer(serializers.Serializer):
    kind = serializers.CharField(help_text="`queue` or `agent`: what each row is about.")
    period = serializers.CharField(help_text="`day` or `hour`: the length of each row's period.")
    start = serializers.DateField(help_text="The first day (inclusive).")
    end = serializers.DateField(help_text="The last day (inclusive).")
    rows = ReportRowSerializer(many=True)
