"""Contacts (crm): list with filters, read, create, update, their channel identities, and merge.

Visibility is the CRM pages' rule (crm/views.py): a contact is not owned by a team, so whoever holds
`crm.view_contact` (agents, supervisors, admins) sees every contact; what a contact's conversations show
stays the switch's one visibility rule (the conversations endpoints). Writes need the permissions the CRM
page and the admin check: `crm.add_contact`, `crm.change_contact`, `crm.add_contactidentity`,
`crm.delete_contactidentity`, and for a merge `crm.merge_contacts` with `crm.change_contact` (the admin's
merge action). Every write goes through crm.services.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.shortcuts import get_object_or_404
from django_filters import rest_framework as filters
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from api.permissions import StaffWithScope
from api.rules import ActionPermissions
from api.serializers_resources import (
    ContactMergeResultSerializer,
    ContactMergeSerializer,
    ContactSerializer,
    ContactWriteSerializer,
    IdentityCreateSerializer,
    IdentitySerializer,
)
from api.views.base import ApiMixin
from core.errors import DomainError
from crm import selectors as crm_selectors
from crm import services as crm_services
from crm.models import Contact, ContactIdentity


def refused(exc: ValidationError) -> DomainError:
    """A crm service's ValidationError in the one error shape (nothing was changed)."""
    if getattr(exc, "code", None) == "identity_taken":
        return DomainError(
            "identity_taken", exc.messages[0], status=409, contact_id=(exc.params or {}).get("contact_id")
        )
    if hasattr(exc, "error_dict"):
        return DomainError("invalid", "Some fields are not valid.", errors=exc.message_dict)
    return DomainError("invalid", " ".join(exc.messages))


class ContactFilter(filters.FilterSet):
    search = filters.CharFilter(
        method="filter_search",
        max_length=200,
        help_text="Part of the name, an e-mail address, a phone number, the company, a channel id, or the id.",
    )
    tag = filters.CharFilter(field_name="tags__name", max_length=64, help_text="A tag's exact name.")
    created_after = filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")
    updated_after = filters.IsoDateTimeFilter(field_name="updated_at", lookup_expr="gte")
    updated_before = filters.IsoDateTimeFilter(field_name="updated_at", lookup_expr="lt")

    class Meta:
        model = Contact
        fields = ["search", "tag", "created_after", "created_before", "updated_after", "updated_before"]

    def filter_search(self, queryset, name, value):
        value = value.strip()
        return (
            queryset.filter(crm_selectors.contact_search_q(value, user=self.request.user)).distinct()
            if value
            else queryset
        )


_TAGS = ["contacts"]


@extend_schema_view(
    list=extend_schema(summary="List contacts", tags=_TAGS),
    retrieve=extend_schema(summary="Read a contact", tags=_TAGS),
    create=extend_schema(
        summary="Create a contact", tags=_TAGS, request=ContactWriteSerializer, responses={201: ContactSerializer}
    ),
    partial_update=extend_schema(
        summary="Update a contact",
        tags=_TAGS,
        request=ContactWriteSerializer,
        responses={200: ContactSerializer},
        description="Only the fields given change; `tags`, when given, replaces every tag of the contact.",
    ),
)
class ContactViewSet(ApiMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Contacts of the CRM: every contact to every role that may open the CRM pages (`crm.view_contact`)."""

    serializer_class = ContactSerializer
    filterset_class = ContactFilter
    permission_classes = [StaffWithScope, ActionPermissions]
    action_perms = {
        "list": ["crm.view_contact"],
        "retrieve": ["crm.view_contact"],
        "create": ["crm.view_contact", "crm.add_contact"],
        "partial_update": ["crm.view_contact", "crm.change_contact"],
        "merge": ["crm.view_contact", "crm.change_contact", "crm.merge_contacts"],
        "identities": ["crm.view_contact", "crm.view_contactidentity"],
        "identity_add": ["crm.view_contact", "crm.add_contactidentity"],
        "identity_remove": ["crm.view_contact", "crm.delete_contactidentity"],
    }

    def get_queryset(self):
        return Contact.objects.select_related("company").prefetch_related("tags", "identities")

    def _read(self, contact_id: int) -> Contact:
        return self.get_queryset().get(pk=contact_id)

    def _write(self, contact: Contact, data: dict) -> None:
        tags = data.pop("tags", None)
        try:
            # Always saved, so a change of tags alone moves updated_at too.
            crm_services.contact_update(contact=contact, data=data)
        except ValidationError as exc:
            raise refused(exc) from None
        if tags is not None:
            crm_services.contact_set_tags(contact=contact, names=tags)

    def create(self, request):
        body = ContactWriteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        with transaction.atomic():
            try:
                contact = crm_services.contact_create(
                    name=data.pop("name", ""),
                    emails=data.pop("emails", None),
                    phones=data.pop("phones", None),
                    language=data.pop("language", ""),
                    timezone_name=data.pop("timezone", ""),
                    custom_attributes=data.pop("custom_attributes", None),
                )
            except ValidationError as exc:
                raise refused(exc) from None
            self._write(contact, data)
        return Response(ContactSerializer(self._read(contact.pk)).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request, pk=None):
        contact = self.get_object()
        body = ContactWriteSerializer(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        with transaction.atomic():
            self._write(contact, dict(body.validated_data))
        return Response(ContactSerializer(self._read(contact.pk)).data)

    @extend_schema(
        summary="Merge another contact into this one",
        tags=_TAGS,
        request=ContactMergeSerializer,
        responses={200: ContactMergeResultSerializer},
        description="The contact named in the body is folded into this one and deleted: its identities, notes, "
        "tags, addresses and conversations move here; this contact's own values win where both have one. "
        "One transaction: if any part fails, nothing moved.",
    )
    @action(detail=True, methods=["post"])
    def merge(self, request, pk=None):
        target = self.get_object()
        body = ContactMergeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        source_id = body.validated_data["contact_id"]
        if source_id == target.pk:
            raise DomainError("invalid", "A contact cannot be merged into itself.", errors={"contact_id": ["Itself."]})
        source = Contact.objects.filter(pk=source_id).first()
        if source is None:
            raise DomainError("not_found", f"No contact {source_id} to merge.")
        try:
            record = crm_services.contact_merge(source=source, target=target, merged_by=request.user)
        except ValidationError as exc:
            raise refused(exc) from None
        result = {
            "contact": self._read(target.pk),
            "merged_contact_id": source_id,
            "moved": record.moved,
            "merged_at": record.merged_at,
        }
        return Response(ContactMergeResultSerializer(result).data)

    @extend_schema(
        methods=["GET"],
        summary="List a contact's channel identities",
        tags=_TAGS,
        responses={200: IdentitySerializer(many=True)},
    )
    @extend_schema(
        methods=["POST"],
        summary="Add a channel identity to a contact",
        tags=_TAGS,
        request=IdentityCreateSerializer,
        responses={201: IdentitySerializer},
        description="An address belongs to one contact: one another contact holds answers 409 `identity_taken` "
        "with that contact's `contact_id` (merge the two instead).",
    )
    @action(detail=True, methods=["get", "post"], url_path="identities", pagination_class=None, filterset_class=None)
    def identities(self, request, pk=None):
        contact = self.get_object()
        if request.method == "GET":
            return Response(IdentitySerializer(contact.identities.all(), many=True).data)
        return self.identity_add(request, contact)

    def identity_add(self, request, contact: Contact) -> Response:
        self.action = "identity_add"
        self.check_permissions(request)
        body = IdentityCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            identity = crm_services.identity_add(contact=contact, **body.validated_data)
        except ValidationError as exc:
            raise refused(exc) from None
        return Response(IdentitySerializer(identity).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Remove a channel identity from a contact",
        tags=_TAGS,
        request=None,
        responses={204: None},
        parameters=[OpenApiParameter("identity_id", int, OpenApiParameter.PATH)],
        description="The contact and its conversations stay; the next message from that address makes a new contact.",
    )
    @action(
        detail=True,
        methods=["delete"],
        url_path=r"identities/(?P<identity_id>[0-9]+)",
        pagination_class=None,
        filterset_class=None,
    )
    def identity_remove(self, request, pk=None, identity_id=None):
        contact = self.get_object()
        identity = get_object_or_404(ContactIdentity, pk=int(identity_id), contact=contact)
        crm_services.identity_remove(identity=identity)
        return Response(status=status.HTTP_204_NO_CONTENT)
