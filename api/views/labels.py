"""Labels and close reasons: every staff caller may list the active ones (what the console offers); the
admin defines them in Django admin."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers, viewsets

from api.views.base import ApiMixin
from imsubsystem.models import CloseReason, Label


class LabelSerializer(serializers.ModelSerializer):
    class Meta:
        model = Label
        fields = ["id", "name", "colour", "description"]
        read_only_fields = fields


class CloseReasonSerializer(serializers.ModelSerializer):
    class Meta:
        model = CloseReason
        fields = ["id", "code", "name"]
        read_only_fields = fields


@extend_schema_view(
    list=extend_schema(summary="List the active labels", tags=["conversations"]),
    retrieve=extend_schema(summary="Read a label", tags=["conversations"]),
)
class LabelViewSet(ApiMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = LabelSerializer
    queryset = Label.objects.filter(is_active=True).order_by("name", "id")


@extend_schema_view(
    list=extend_schema(summary="List the active close reasons", tags=["conversations"]),
    retrieve=extend_schema(summary="Read a close reason", tags=["conversations"]),
)
class CloseReasonViewSet(ApiMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = CloseReasonSerializer
    queryset = CloseReason.objects.filter(is_active=True).order_by("position", "name", "id")
