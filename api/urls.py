"""The integrator API, version 1, under /api/rest/v1/ (docs/api.md); its OpenAPI document and its
documentation page beside it."""

from __future__ import annotations

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView
from rest_framework.routers import SimpleRouter

from api.views.canned import CannedResponseViewSet
from api.views.contacts import ContactViewSet
from api.views.inboxes import InboxViewSet
from api.views.me import MeView
from api.views.reports import ReportView
from api.views.routing import AgentViewSet, QueueViewSet, TeamViewSet

app_name = "api"

router = SimpleRouter(trailing_slash=False)
router.register("inboxes", InboxViewSet, basename="inbox")
router.register("contacts", ContactViewSet, basename="contact")
router.register("queues", QueueViewSet, basename="queue")
router.register("teams", TeamViewSet, basename="team")
router.register("agents", AgentViewSet, basename="agent")
router.register("canned-responses", CannedResponseViewSet, basename="canned-response")

urlpatterns = [
    path("me", MeView.as_view(), name="me"),
    path("reports/<str:kind>", ReportView.as_view(), name="report"),
    path("schema", SpectacularAPIView.as_view(), name="schema"),
    path("docs", SpectacularRedocView.as_view(url_name="api:schema"), name="docs"),
    path("", include(router.urls)),
]
