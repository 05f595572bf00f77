"""Event webhook subscriptions and their deliveries (docs/webhooks.md), for whoever may manage them in
admin (the model permissions of webhooks.WebhookSubscription and WebhookDelivery; the Admin role holds
them). Every write goes through webhooks.services: the same checks as admin (a private address refused,
contact events never team-scoped)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from api.permissions import StaffWithScope
from api.rules import ActionPermissions
from api.views.base import ApiMixin, object_id
from core.errors import DomainError
from webhooks import selectors, services, tasks
from webhooks.models import DeliveryStatus, EventType, WebhookDelivery, WebhookSubscription


class SubscriptionSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(max_length=100)
    target_url = serializers.URLField(max_length=500)
    event_types = serializers.ListField(child=serializers.ChoiceField(choices=EventType.values), min_length=1)
    team_id = serializers.IntegerField(allow_null=True, required=False)
    active = serializers.BooleanField(required=False)
    created_by_id = serializers.IntegerField(read_only=True, allow_null=True)
    created_at = serializers.DateTimeField(read_only=True)
    secret = serializers.CharField(read_only=True, help_text="Only in the answer to the creation.")


class DeliverySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    subscription_id = serializers.IntegerField()
    event_id = serializers.UUIDField()
    event_type = serializers.ChoiceField(choices=EventType.values)
    conversation_id = serializers.IntegerField(allow_null=True)
    status = serializers.ChoiceField(choices=DeliveryStatus.values)
    attempts = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    next_attempt_at = serializers.DateTimeField(allow_null=True)
    delivered_at = serializers.DateTimeField(allow_null=True)
    last_status_code = serializers.IntegerField(allow_null=True)
    last_error = serializers.CharField(allow_blank=True, allow_null=True)


class ReplaySerializer(serializers.Serializer):
    queued = serializers.IntegerField()


@extend_schema_view(
    list=extend_schema(summary="List webhook subscriptions", tags=["webhooks"]),
    retrieve=extend_schema(summary="Read a webhook subscription", tags=["webhooks"]),
    create=extend_schema(
        summary="Subscribe a URL to events (the answer holds the signing secret, once)", tags=["webhooks"]
    ),
    partial_update=extend_schema(summary="Change a webhook subscription", tags=["webhooks"]),
    destroy=extend_schema(summary="Delete a webhook subscription", tags=["webhooks"]),
)
class WebhookSubscriptionViewSet(ApiMixin, viewsets.GenericViewSet):
    serializer_class = SubscriptionSerializer
    permission_classes = [StaffWithScope, ActionPermissions]
    action_perms = {
        "list": ["webhooks.view_webhooksubscription"],
        "retrieve": ["webhooks.view_webhooksubscription"],
        "create": ["webhooks.add_webhooksubscription"],
        "partial_update": ["webhooks.change_webhooksubscription"],
        "destroy": ["webhooks.delete_webhooksubscription"],
    }
    queryset = WebhookSubscription.objects.none()  # for the schema; reads go through the selectors
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def _get(self, pk) -> WebhookSubscription:
        subscription_id = object_id(pk)
        subscription = selectors.subscription_get(subscription_id=subscription_id) if subscription_id else None
        if subscription is None:
            raise DomainError("not_found", "No such webhook subscription.")
        return subscription

    def list(self, request):
        rows = selectors.subscriptions_list()
        page = self.paginate_queryset(rows.order_by("-id"))
        return self.get_paginated_response([selectors.subscription_dict(row) for row in page])

    def retrieve(self, request, pk=None):
        return Response(selectors.subscription_dict(self._get(pk)))

    def create(self, request):
        serializer = SubscriptionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        subscription = services.subscription_create(data=dict(serializer.validated_data), created_by=request.user)
        return Response(selectors.subscription_dict(subscription, with_secret=True), status=status.HTTP_201_CREATED)

    def partial_update(self, request, pk=None):
        subscription = self._get(pk)
        serializer = SubscriptionSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        subscription = services.subscription_update(
            subscription_id=subscription.pk, data=dict(serializer.validated_data)
        )
        return Response(selectors.subscription_dict(subscription))

    def destroy(self, request, pk=None):
        subscription = self._get(pk)
        services.subscription_delete(subscription_id=subscription.pk)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_view(
    list=extend_schema(
        summary="List webhook deliveries, newest first",
        tags=["webhooks"],
        parameters=[
            OpenApiParameter("subscription", int, description="Only this subscription's."),
            OpenApiParameter("status", str, enum=DeliveryStatus.values),
            OpenApiParameter("event_type", str, enum=EventType.values),
        ],
    ),
    replay=extend_schema(summary="Send a delivery again", tags=["webhooks"], request=None, responses=ReplaySerializer),
)
class WebhookDeliveryViewSet(ApiMixin, viewsets.GenericViewSet):
    serializer_class = DeliverySerializer
    permission_classes = [StaffWithScope, ActionPermissions]
    action_perms = {
        "list": ["webhooks.view_webhookdelivery"],
        "replay": ["webhooks.view_webhookdelivery", "webhooks.change_webhookdelivery"],
    }
    queryset = WebhookDelivery.objects.none()
    filter_backends: list = []

    def list(self, request):
        params = request.query_params
        subscription = params.get("subscription")
        subscription_id = object_id(subscription) if subscription is not None else None
        if subscription is not None and subscription_id is None:
            raise DomainError("invalid", "subscription must be a subscription id.")
        if params.get("status") and params["status"] not in DeliveryStatus.values:
            raise DomainError("invalid", f"status must be one of {', '.join(DeliveryStatus.values)}.")
        if params.get("event_type") and params["event_type"] not in EventType.values:
            raise DomainError("invalid", "event_type names no event type.")
        rows = services.deliveries_list(
            subscription_id=subscription_id,
            status=params.get("status"),
            event_type=params.get("event_type"),
            limit=None,
        )
        page = self.paginate_queryset(rows)
        return self.get_paginated_response([selectors.delivery_dict(row) for row in page])

    @action(detail=True, methods=["post"])
    def replay(self, request, pk=None):
        delivery_id = object_id(pk)
        if delivery_id is None or not WebhookDelivery.objects.filter(pk=delivery_id).exists():
            raise DomainError("not_found", "No such webhook delivery.")
        queued = services.delivery_replay(
            delivery_ids=[delivery_id], by_user=request.user, on_commit_drain=tasks.drain_later
        )
        return Response({"queued": queued})
