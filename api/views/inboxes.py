"""Inboxes: every staff caller may list them (the console shows them all); credentials never leave."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import viewsets

from api.serializers import InboxSerializer
from api.views.base import ApiMixin
from imsubsystem.models import Inbox


@extend_schema_view(
    list=extend_schema(summary="List inboxes", tags=["inboxes"]),
    retrieve=extend_schema(summary="Read an inbox", tags=["inboxes"]),
)
class InboxViewSet(ApiMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = InboxSerializer
    queryset = Inbox.objects.order_by("-id")
