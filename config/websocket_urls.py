"""Every WebSocket route of the public interface (docs/protocol.md)."""

from django.urls import path

from interface import consumers, supervisor_live

websocket_urlpatterns: list = [
    path("ws/v1/widget/", consumers.WidgetConsumer.as_asgi()),
    path("ws/v1/agent/", consumers.AgentConsumer.as_asgi()),
    path("ws/v1/supervisor/", consumers.SupervisorConsumer.as_asgi()),
    # The dashboard's scoped live snapshots (docs/supervisor.md): an extension of the protocol.
    path("ws/v1/supervisor/live/", supervisor_live.SupervisorLiveConsumer.as_asgi()),
]
