"""Every WebSocket route of the public interface (docs/protocol.md)."""

websocket_urlpatterns: list = []
