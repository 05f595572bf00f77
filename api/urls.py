"""The integrator API, version 1, under /api/rest/v1/ (docs/api.md); its OpenAPI document and its
documentation page beside it."""

from __future__ import annotations

from django.urls import include, path, re_path
from rest_framework.routers import SimpleRouter

from api.views.canned import CannedResponseViewSet
from api.views.contacts import ContactViewSet
from api.views.conversations import ConversationViewSet
from api.views.docs import ApiDocsView, ApiSchemaView
from api.views.inboxes import InboxViewSet
from api.views.labels import CloseReasonViewSet, LabelViewSet
from api.views.me import MeView
from api.views.messages import ConversationMessagesView
from api.views.not_found import NoSuchEndpoint
from api.views.reports import ReportView
from api.views.routing import AgentViewSet, QueueViewSet, TeamViewSet
from api.views.search import SearchView
from api.views.tokens import TokenViewSet
from api.views.webhooks import WebhookDeliveryViewSet, WebhookSubscriptionViewSet

app_name = "api"

router = SimpleRouter(trailing_slash=False)
router.register("inboxes", InboxViewSet, basename="inbox")
router.register("webhooks/subscriptions", WebhookSubscriptionViewSet, basename="webhook-subscription")
router.register("webhooks/deliveries", WebhookDeliveryViewSet, basename="webhook-delivery")
router.register("tokens", TokenViewSet, basename="token")
router.register("contacts", ContactViewSet, basename="contact")
router.register("queues", QueueViewSet, basename="queue")
router.register("teams", TeamViewSet, basename="team")
router.register("agents", AgentViewSet, basename="agent")
router.register("canned-responses", CannedResponseViewSet, basename="canned-response")
router.register("conversations", ConversationViewSet, basename="conversation")
router.register("labels", LabelViewSet, basename="label")
router.register("close-reasons", CloseReasonViewSet, basename="close-reason")

urlpatterns = [
    path("me", MeView.as_view(), name="me"),
    re_path(
        r"^conversations/(?P<conversation_id>[^/]+)/messages$",
        ConversationMessagesView.as_view(),
        name="conversation-messages",
    ),
    path("reports/<str:kind>", ReportView.as_view(), name="report"),
    path("search", SearchView.as_view(), name="search"),
    path("schema", ApiSchemaView.as_view(), name="schema"),
    path("docs", ApiDocsView.as_view(url_name="api:schema"), name="docs"),
    path("", include(router.urls)),
    # Last: any other path under the prefix answers 404 in the one error shape.
    re_path(r"^.*$", NoSuchEndpoint.as_view(), name="no-such-endpoint"),
]
