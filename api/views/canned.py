"""Canned responses, as the console shows them (imsubsystem.selectors.canned_responses_for): the shared ones
and the caller's own, a caller's own hiding a shared one with the same shortcut in the list.

Writes follow the admin: roles with `imsubsystem.add_cannedresponse`, `change_cannedresponse` and
`delete_cannedresponse` (supervisors and admins) may make, edit and delete them; agents only read. Through
the API a caller reaches the shared responses and their own (another user's own stay in the admin).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.response import Response

from api.permissions import StaffWithScope
from api.rules import ActionPermissions
from api.serializers_resources import CannedResponseSerializer, CannedResponseWriteSerializer
from api.views.base import ApiMixin
from api.views.contacts import refused
from imsubsystem import selectors as switch_selectors
from imsubsystem.models import CannedResponse

_TAGS = ["canned responses"]


@extend_schema_view(
    list=extend_schema(summary="List canned responses", tags=_TAGS),
    retrieve=extend_schema(summary="Read a canned response", tags=_TAGS),
    create=extend_schema(
        summary="Create a canned response",
        tags=_TAGS,
        request=CannedResponseWriteSerializer,
        responses={201: CannedResponseSerializer},
    ),
    partial_update=extend_schema(
        summary="Update a canned response",
        tags=_TAGS,
        request=CannedResponseWriteSerializer,
        responses={200: CannedResponseSerializer},
        description="`shortcut`, `title` and `text`; whether it is shared is set when it is made.",
    ),
    destroy=extend_schema(summary="Delete a canned response", tags=_TAGS),
)
class CannedResponseViewSet(
    ApiMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """The shared canned responses and your own, as the console offers them."""

    serializer_class = CannedResponseSerializer
    permission_classes = [StaffWithScope, ActionPermissions]
    action_perms = {
        "list": ["imsubsystem.view_cannedresponse"],
        "retrieve": ["imsubsystem.view_cannedresponse"],
        "create": ["imsubsystem.view_cannedresponse", "imsubsystem.add_cannedresponse"],
        "partial_update": ["imsubsystem.view_cannedresponse", "imsubsystem.change_cannedresponse"],
        "destroy": ["imsubsystem.view_cannedresponse", "imsubsystem.delete_cannedresponse"],
    }

    def get_queryset(self) -> QuerySet[CannedResponse]:
        if getattr(self, "swagger_fake_view", False):  # the OpenAPI document's generation
            return CannedResponse.objects.none()
        user_id = self.request.user.pk
        responses = switch_selectors.canned_responses_for(user_id=user_id)
        if self.action == "list":
            own = CannedResponse.objects.filter(owner_id=user_id).values("shortcut")
            responses = responses.exclude(owner__isnull=True, shortcut__in=own)
        return responses

    def _save(self, canned: CannedResponse, data: dict) -> CannedResponse:
        for field in ("shortcut", "title", "text", "translations"):
            if field in data:
                setattr(canned, field, data[field])
        try:
            canned.full_clean()
        except ValidationError as exc:
            raise refused(exc) from None
        canned.save()
        return canned

    def create(self, request):
        body = CannedResponseWriteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        owner = None if body.validated_data["shared"] else request.user
        canned = self._save(CannedResponse(owner=owner), body.validated_data)
        return Response(CannedResponseSerializer(canned).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request, pk=None):
        canned = self.get_object()
        body = CannedResponseWriteSerializer(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        return Response(CannedResponseSerializer(self._save(canned, body.validated_data)).data)
