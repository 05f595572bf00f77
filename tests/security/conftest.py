"""The security tests drive the switch's sockets and HTTP APIs with the switch's own fixtures (every frame
checked against imsubsystem/events.py, routing in process, no bot unless a test registers one)."""

from tests.gateway.conftest import stand_in  # noqa: F401
from tests.imsubsystem.conftest import (  # noqa: F401 - fixtures for this folder
    _no_bots,
    frame_log,
    inbox,
    make_agent,
    queue,
    routing_backend,
    supervisor_user,
    widget_session,
)
