"""Every WebSocket route of the public interface (docs/protocol.md)."""

from django.urls import path

from imsubsystem import consumers

websocket_urlpatterns: list = [
    path("ws/v1/widget/", consumers.WidgetConsumer.as_asgi()),
    path("ws/v1/agent/", consumers.AgentConsumer.as_asgi()),
    path("ws/v1/supervisor/", consumers.SupervisorConsumer.as_asgi()),
]
