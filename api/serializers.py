"""The integrator API's objects as JSON. Each serializer names its fields: nothing leaks by default
(an inbox's credentials never leave)."""

from __future__ import annotations

from rest_framework import serializers

from api.models import ApiToken
from imsubsystem.models import Inbox


class InboxSerializer(serializers.ModelSerializer):
    default_queue = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)

    class Meta:
        model = Inbox
        fields = ["id", "kind", "key", "name", "default_queue", "is_active", "created_at"]
        read_only_fields = fields


class CallerSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    name = serializers.CharField()
    roles = serializers.ListField(child=serializers.CharField())
    token = serializers.DictField(allow_null=True, help_text="The token of this call (null for a session).")


class TokenSerializer(serializers.ModelSerializer):
    class Meta:
        model = ApiToken
        fields = ["id", "name", "scope", "prefix", "created_at", "last_used_at", "revoked_at"]
        read_only_fields = fields


class TokenCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100, help_text="What the key is for, e.g. the system that uses it.")
    scope = serializers.ChoiceField(choices=ApiToken.SCOPES, default=ApiToken.READ)

    def validate_name(self, value: str) -> str:
        if not value.strip():
            raise serializers.ValidationError("Give the key a name.")
        return value.strip()


class NewTokenSerializer(TokenSerializer):
    key = serializers.CharField(
        allow_null=True, help_text="The key itself: shown this once, never again (null in a replayed answer)."
    )

    class Meta(TokenSerializer.Meta):
        fields = [*TokenSerializer.Meta.fields, "key"]
        read_only_fields = fields
