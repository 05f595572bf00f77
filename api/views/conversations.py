"""Conversations: the list with its filters, one conversation, and the actions on it (assign, transfer,
close, reopen) through the switch's and the supervisor's own services.

Every object passes the one visibility rule (imsubsystem.selectors.visibility): the list is filtered by
`conversations_visible_q`, one conversation is read by `conversation_visible_get`, and a conversation the
caller may not see answers 404 `not_found`, the same as one that does not exist, so ids do not leak.
"""

from __future__ import annotations

from django import forms
from django_filters import rest_framework as filters
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from api.serializers_conversations import (
    AssignSerializer,
    CloseSerializer,
    ConversationDetailSerializer,
    ConversationSerializer,
    ConversationStartedSerializer,
    ConversationStartSerializer,
    LabelsSetSerializer,
    SnoozeSerializer,
    TransferSerializer,
)
from api.views.base import ApiMixin
from api.views.messages import client_id_of
from imsubsystem import selectors
from imsubsystem import services as switch
from imsubsystem.models import Conversation, ConversationStatus
from imsubsystem.ratelimit import agent_identity, message_rate_check
from supervisor import services as supervisor_services

RELATED = ("contact", "inbox", "queue", "assignee", "close_reason")


class IdFilter(filters.NumberFilter):
    """An id: a whole number (a decimal or a word is `invalid`, not a match for nothing)."""

    field_class = forms.IntegerField


class ConversationFilter(filters.FilterSet):
    status = filters.MultipleChoiceFilter(
        choices=ConversationStatus.choices, help_text="Repeat for several: ?status=queued&status=assigned."
    )
    inbox = IdFilter(field_name="inbox_id", help_text="An inbox id.")
    queue = IdFilter(field_name="queue_id", help_text="A queue id.")
    agent = IdFilter(field_name="assignee_id", help_text="The assigned agent's user id.")
    contact = IdFilter(field_name="contact_id", help_text="A contact id.")
    contact_tag = filters.CharFilter(
        field_name="contact__tags__name",
        max_length=64,
        help_text="The name of a CRM tag the conversation's contact carries (see `label` for the "
        "conversation's own labels).",
    )
    label = IdFilter(field_name="labels__id", help_text="A label id: the conversations carrying that label.")
    snoozed = filters.BooleanFilter(
        field_name="snoozed_at",
        lookup_expr="isnull",
        exclude=True,
        help_text="true: only snoozed ones; false: only those not snoozed.",
    )
    created_after = filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte", help_text="ISO 8601.")
    created_before = filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt", help_text="ISO 8601.")
    last_message_after = filters.IsoDateTimeFilter(
        field_name="last_message_at", lookup_expr="gte", help_text="Its last message at or after (ISO 8601)."
    )
    last_message_before = filters.IsoDateTimeFilter(
        field_name="last_message_at", lookup_expr="lt", help_text="Its last message before (ISO 8601)."
    )
    closed_after = filters.IsoDateTimeFilter(field_name="closed_at", lookup_expr="gte", help_text="ISO 8601.")
    closed_before = filters.IsoDateTimeFilter(field_name="closed_at", lookup_expr="lt", help_text="ISO 8601.")

    class Meta:
        model = Conversation
        fields: list[str] = []


def _action_schema(summary: str, request):
    return extend_schema(
        summary=summary,
        tags=["conversations"],
        request=request,
        responses={
            200: ConversationSerializer,
            400: OpenApiResponse(description="invalid: a field is missing or not valid"),
            403: OpenApiResponse(description="forbidden: a read-only token, or a role that may not do this"),
            404: OpenApiResponse(description="not_found: no such conversation, or not yours"),
            409: OpenApiResponse(description="illegal_transition or conversation_closed"),
        },
    )


@extend_schema_view(
    list=extend_schema(
        summary="List conversations",
        description="The conversations the caller may see, newest first, by cursor (`next`).",
        tags=["conversations"],
    ),
    retrieve=extend_schema(
        summary="Read a conversation",
        description="With `visitor`: what the web widget told of the visitor's page and browser (null for other "
        "channels, or before the widget told anything).",
        tags=["conversations"],
    ),
    create=extend_schema(
        summary="Start a conversation with a contact on an inbox (outbound)",
        description="WhatsApp needs an approved `template` outside the 24-hour window; Telegram and SMS take "
        "`text`; the web widget keeps the message for the visitor's next visit. The conversation is assigned to "
        "the caller. 201 when started; 200 when it was there already (a retry with the same `client_id` or "
        "Idempotency-Key, or the contact's open conversation in that inbox, with the message added).",
        tags=["conversations"],
        request=ConversationStartSerializer,
        responses={
            201: ConversationStartedSerializer,
            200: ConversationStartedSerializer,
            400: OpenApiResponse(description="invalid, empty, too_long, no_identity or template_required"),
            403: OpenApiResponse(description="forbidden: a read-only token, or an inbox the caller may not use"),
            404: OpenApiResponse(description="not_found: no such contact or inbox"),
            409: OpenApiResponse(description="conversation_open: an open conversation the caller may not see"),
        },
    ),
)
class ConversationViewSet(ApiMixin, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = ConversationSerializer
    filterset_class = ConversationFilter
    # Any id reaches the view, which answers the one 404 for whatever is not a visible conversation.
    lookup_value_regex = "[^/]+"

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the OpenAPI document is made without a caller
            return Conversation.objects.none()
        visible = selectors.conversations_visible_q(user=self.request.user)
        return Conversation.objects.filter(visible).select_related(*RELATED).prefetch_related("labels")

    def get_serializer_class(self):
        return ConversationDetailSerializer if self.action == "retrieve" else ConversationSerializer

    def get_object(self) -> Conversation:
        # Reading needs the rule; an action (transfer, close...) its acting form: a mention lets one see, not act.
        conversation = selectors.conversation_visible_get(
            user=self.request.user,
            conversation_id=self.kwargs["pk"],
            acting=self.request.method not in ("GET", "HEAD", "OPTIONS"),
        )
        if conversation is None:
            raise NotFound()
        return conversation

    def create(self, request):
        """The switch's one outbound start (imsubsystem.services.conversation_start_outbound), as the
        console's "New conversation" does, charged to the caller's message rate limit."""
        serializer = ConversationStartSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        message_rate_check(identity=agent_identity(request.user.pk))
        started = switch.conversation_start_outbound(
            contact_id=data["contact_id"],
            inbox_id=data["inbox_id"],
            by_user_id=request.user.pk,
            text=data.get("text"),
            template=dict(data["template"]) if data.get("template") else None,
            client_key=client_id_of(request, data.get("client_id")),
        )
        conversation = Conversation.objects.select_related(*RELATED).get(pk=started["conversation_id"])
        body = {
            "conversation": ConversationSerializer(conversation).data,
            "created": started["created"],
            "message": started["message"],
        }
        return Response(body, status=201 if started["created"] else 200)

    def _answer(self, conversation_id: int) -> Response:
        """The conversation as the action left it (what routing does on commit may follow)."""
        conversation = Conversation.objects.select_related(*RELATED).prefetch_related("labels").get(pk=conversation_id)
        return Response(ConversationSerializer(conversation).data)

    @_action_schema("Assign to an agent (supervisors and admins)", AssignSerializer)
    @action(detail=True, methods=["post"])
    def assign(self, request, pk=None):
        """The supervisor's own action: the conversation and the agent must both lie in the caller's
        teams (an admin: any)."""
        conversation = self.get_object()
        body = AssignSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        supervisor_services.conversation_reassign(
            by_user=request.user, conversation_id=conversation.pk, agent_id=body.validated_data["agent_id"]
        )
        return self._answer(conversation.pk)

    @_action_schema("Transfer to a queue or an agent", TransferSerializer)
    @action(detail=True, methods=["post"])
    def transfer(self, request, pk=None):
        """The console's transfer, through the same service (routing decides; a private system note
        records it; the caller's note for the receiving agent follows it, in one transaction)."""
        conversation = self.get_object()
        body = TransferSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        switch.conversation_transfer(
            conversation_id=conversation.pk,
            by_user_id=request.user.pk,
            queue_id=data.get("queue_id"),
            agent_id=data.get("agent_id"),
            note=data.get("note", ""),
        )
        return self._answer(conversation.pk)

    @_action_schema("Close", CloseSerializer)
    @action(detail=True, methods=["post"])
    def close(self, request, pk=None):
        conversation = self.get_object()
        body = CloseSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        switch.conversation_close(
            conversation_id=conversation.pk,
            by_user_id=request.user.pk,
            wrap_up=body.validated_data.get("reason", ""),
            reason_code=body.validated_data.get("reason_code") or None,
        )
        return self._answer(conversation.pk)

    @_action_schema("Set the conversation's labels", LabelsSetSerializer)
    @action(detail=True, methods=["post"])
    def labels(self, request, pk=None):
        """The whole set at once (imsubsystem.services.conversation_labels_set): whoever may see the
        conversation may label it; an unknown or inactive label id is `invalid`."""
        conversation = self.get_object()
        body = LabelsSetSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        switch.conversation_labels_set(
            conversation_id=conversation.pk, label_ids=body.validated_data["label_ids"], by_user_id=request.user.pk
        )
        return self._answer(conversation.pk)

    @_action_schema("Snooze until a time or until the customer writes", SnoozeSerializer)
    @action(detail=True, methods=["post"])
    def snooze(self, request, pk=None):
        """Out of its agent's active list until `until` or the customer's next message (docs/api.md,
        "Snooze"); only an assigned conversation (`illegal_transition` otherwise)."""
        conversation = self.get_object()
        body = SnoozeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        switch.conversation_snooze(
            conversation_id=conversation.pk, by_user_id=request.user.pk, until=body.validated_data.get("until")
        )
        return self._answer(conversation.pk)

    @_action_schema("Wake a snoozed conversation now", None)
    @action(detail=True, methods=["post"])
    def unsnooze(self, request, pk=None):
        """Back in its agent's active list (through its queue when its place was freed); a conversation that
        is not snoozed is answered as it is."""
        conversation = self.get_object()
        switch.conversation_unsnooze(conversation_id=conversation.pk, reason="agent", by_user_id=request.user.pk)
        return self._answer(conversation.pk)

    @_action_schema("Reopen a closed conversation", None)
    @action(detail=True, methods=["post"])
    def reopen(self, request, pk=None):
        """Back in its queue, the previous agent preferred (imsubsystem.services.conversation_reopen)."""
        conversation = self.get_object()
        switch.conversation_reopen(conversation_id=conversation.pk, by_user_id=request.user.pk)
        return self._answer(conversation.pk)
