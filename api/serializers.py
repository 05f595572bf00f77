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
