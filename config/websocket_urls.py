"""Every WebSocket route of the public interface (docs/protocol.md).

Only the staff sockets (console, supervisor) read the login session and its user, so only they are
wrapped in Channels' cookie, session and user middleware. The widget socket authenticates with its token
in the `auth` frame; without the middleware each of its sockets holds no session store, lazy user,
cookie dict or copies of its scope (about 4 KB less per idle widget socket, docs/performance.md).
"""

from channels.auth import AuthMiddlewareStack
from django.urls import path

from interface.sockets.agent import AgentConsumer
from interface.sockets.supervisor import SupervisorConsumer, SupervisorLiveConsumer
from interface.sockets.widget import WidgetConsumer


def _staff(consumer) -> object:
    """A staff socket: the login session's user in scope["user"]."""
    return AuthMiddlewareStack(consumer.as_asgi())


websocket_urlpatterns: list = [
    path("ws/v1/widget/", WidgetConsumer.as_asgi()),
    path("ws/v1/agent/", _staff(AgentConsumer)),
    path("ws/v1/supervisor/", _staff(SupervisorConsumer)),
    # The dashboard's scoped live snapshots (docs/supervisor.md): an extension of the protocol.
    path("ws/v1/supervisor/live/", _staff(SupervisorLiveConsumer)),
]
