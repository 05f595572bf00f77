"""Every WebSocket route of the public interface (docs/protocol.md)."""

from django.urls import path

from interface.sockets.agent import AgentConsumer
from interface.sockets.supervisor import SupervisorConsumer, SupervisorLiveConsumer
from interface.sockets.widget import WidgetConsumer

websocket_urlpatterns: list = [
    path("ws/v1/widget/", WidgetConsumer.as_asgi()),
    path("ws/v1/agent/", AgentConsumer.as_asgi()),
    path("ws/v1/supervisor/", SupervisorConsumer.as_asgi()),
    # The dashboard's scoped live snapshots (docs/supervisor.md): an extension of the protocol.
    path("ws/v1/supervisor/live/", SupervisorLiveConsumer.as_asgi()),
]
