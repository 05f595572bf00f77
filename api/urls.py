"""The integrator API, version 1, under /api/rest/v1/ (docs/api.md); its OpenAPI document and its
documentation page beside it."""

from __future__ import annotations

from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView
from rest_framework.routers import SimpleRouter

from api.views.conversations import ConversationViewSet
from api.views.inboxes import InboxViewSet
from api.views.me import MeView
from api.views.messages import ConversationMessagesView

app_name = "api"

router = SimpleRouter(trailing_slash=False)
router.register("inboxes", InboxViewSet, basename="inbox")
router.register("conversations", ConversationViewSet, basename="conversation")

urlpatterns = [
    path("me", MeView.as_view(), name="me"),
    re_path(
        r"^conversations/(?P<conversation_id>[^/]+)/messages$",
        ConversationMessagesView.as_view(),
        name="conversation-messages",
    ),
    path("schema", SpectacularAPIView.as_view(), name="schema"),
    path("docs", SpectacularRedocView.as_view(url_name="api:schema"), name="docs"),
    path("", include(router.urls)),
]
