"""Every WebSocket route of the public interface (docs/protocol.md)."""

from django.urls import path

from imsubsystem import consumers
from supervisor import consumers as supervisor_consumers

websocket_urlpatterns: list = [
    path("ws/v1/widget/", consumers.WidgetConsumer.as_asgi()),
    path("ws/v1/agent/", consumers.AgentConsumer.as_asgi()),
    path("ws/v1/supervisor/", consumers.SupervisorConsumer.as_asgi()),
    # The dashboard's scoped live snapshots (docs/supervisor.md): an extension of the protocol.
    path("ws/v1/supervisor/live/", supervisor_consumers.SupervisorLiveConsumer.as_asgi()),
]
