"""Queues, teams, and agents with their presence: what the console and the supervisor dashboard show, to
whom they show it.

- Queues: the console's rule (imsubsystem.selectors.queue_ids_watched): an agent sees the queues they
  serve, a supervisor those and their teams' queues, an admin every queue.
- Teams: the supervisor pages' rule (supervisor.selectors.teams_visible): a supervisor sees the teams they
  supervise, an admin every team; an agent is refused (403), as the dashboard refuses them.
- Agents: a supervisor sees the agents serving their teams' queues (supervisor.selectors.agent_ids_visible)
  and themselves, an admin every agent, an agent only themselves (the console shows an agent their own
  presence and load). Setting an agent's presence is the dashboard's action
  (supervisor.services.agent_status_change): supervisors for the agents of their teams, admins for all.
"""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from api.permissions import StaffWithScope
from api.rules import SupervisorsOnly
from api.serializers_resources import AgentSerializer, PresenceSerializer, QueueSerializer, TeamSerializer
from api.views.base import ApiMixin
from imsubsystem import selectors as switch_selectors
from routing import selectors as routing_selectors
from routing.models import AgentProfile, Queue
from supervisor import selectors as supervisor_selectors
from supervisor import services as supervisor_services
from supervisor.models import Team


def queue_ids_seen(user) -> frozenset[int] | None:
    """The queues this caller sees (None: every queue)."""
    watched = switch_selectors.queue_ids_watched(user=user)
    return None if watched is None else frozenset(watched)


@extend_schema_view(
    list=extend_schema(summary="List queues", tags=["queues"]),
    retrieve=extend_schema(summary="Read a queue", tags=["queues"]),
)
class QueueViewSet(ApiMixin, viewsets.ReadOnlyModelViewSet):
    """Queues you serve or supervise (an admin: every queue), with their figures now."""

    serializer_class = QueueSerializer

    def get_queryset(self) -> QuerySet[Queue]:
        if getattr(self, "swagger_fake_view", False):  # the OpenAPI document's generation
            return Queue.objects.none()
        queues = Queue.objects.prefetch_related("skills_required")
        seen = queue_ids_seen(self.request.user)
        return queues if seen is None else queues.filter(pk__in=seen)

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "live": switch_selectors.queue_live()}


@extend_schema_view(
    list=extend_schema(summary="List teams", tags=["teams"]),
    retrieve=extend_schema(summary="Read a team", tags=["teams"]),
)
class TeamViewSet(ApiMixin, viewsets.ReadOnlyModelViewSet):
    """The teams you supervise (an admin: every team): their queues and supervisors."""

    serializer_class = TeamSerializer
    permission_classes = [StaffWithScope, SupervisorsOnly]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Team.objects.none()
        return supervisor_selectors.teams_visible(user=self.request.user).prefetch_related("queues", "supervisors")


_AGENT_ID = OpenApiParameter("id", int, OpenApiParameter.PATH, description="The agent's user id.")


def agent_ids_seen(user) -> frozenset[int] | None:
    """The agents this caller sees (None: every agent)."""
    if supervisor_selectors.user_is_admin(user):
        return None
    return supervisor_selectors.agent_ids_visible(user=user) | {user.pk}


def agent_data(profile: AgentProfile, *, queue_ids: frozenset[int] | None) -> dict:
    load = routing_selectors.agent_load(agent_id=profile.user_id)
    queues = sorted(q.pk for q in profile.queues.all() if queue_ids is None or q.pk in queue_ids)
    return {
        "id": profile.user_id,
        "username": profile.user.get_username(),
        "name": switch_selectors.user_display_name(profile.user),
        "status": profile.status,
        "connected": profile.connected,
        "presence": routing_selectors.agent_presence_shown(status=profile.status, connected=profile.connected),
        "status_changed_at": profile.status_changed_at,
        "queue_ids": queues,
        "default_capacity": profile.default_capacity,
        "capacity": load["capacity"],
        "load": load["load"],
        "load_by_kind": load["load_by_kind"],
    }


@extend_schema_view(
    list=extend_schema(summary="List agents and their presence", tags=["agents"]),
    retrieve=extend_schema(summary="Read an agent and their presence", tags=["agents"], parameters=[_AGENT_ID]),
    presence=extend_schema(parameters=[_AGENT_ID]),
)
class AgentViewSet(ApiMixin, viewsets.ReadOnlyModelViewSet):
    """Agents by user id: presence, capacity and current load (routing's record and its live index)."""

    serializer_class = AgentSerializer
    lookup_field = "user_id"
    lookup_url_kwarg = "pk"

    def get_queryset(self) -> QuerySet[AgentProfile]:
        if getattr(self, "swagger_fake_view", False):
            return AgentProfile.objects.none()
        profiles = AgentProfile.objects.select_related("user").prefetch_related("queues").filter(user__is_active=True)
        seen = agent_ids_seen(self.request.user)
        return profiles if seen is None else profiles.filter(user_id__in=seen)

    def get_serializer(self, instance=None, *args, **kwargs):
        if instance is None:  # the OpenAPI document's generation
            return AgentSerializer(*args, **kwargs)
        queue_ids = queue_ids_seen(self.request.user)
        if kwargs.get("many"):
            data = [agent_data(p, queue_ids=queue_ids) for p in instance]
        else:
            data = agent_data(instance, queue_ids=queue_ids)
        return AgentSerializer(data, *args, **kwargs)

    @extend_schema(
        summary="Set an agent's presence",
        tags=["agents"],
        request=PresenceSerializer,
        responses={200: AgentSerializer},
        description="The supervisor dashboard's action: a supervisor for the agents of their teams, an admin for "
        "everyone. An agent set to work who has no console open shows `disconnected` after the grace.",
    )
    @action(detail=True, methods=["post"], permission_classes=[StaffWithScope, SupervisorsOnly])
    def presence(self, request, pk=None):
        profile = self.get_object()
        body = PresenceSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        supervisor_services.agent_status_change(
            by_user=request.user, agent_id=profile.user_id, status=body.validated_data["status"]
        )
        profile.refresh_from_db()
        return Response(self.get_serializer(profile).data)
