"""Real-time transport: the channel layer behind a declared protocol (docs/realtime.md).

- protocol.py: `SwitchLayer`, what the switch needs of a layer, and `switch_layer()`, the configured one;
  `DirectLayer`, what ours offers beyond it (one queue per socket, sends without waiting for Redis).
- fanout.py: ours (local fan-out, Redis pub/sub between processes, reset on loss), the production default.
- pubsub.py: channels-redis's pub/sub layer with the same named methods (CHANNEL_LAYER_BACKEND=channels_redis).
- memory.py: the embedded default (in-process), and a recording layer for tests.

This package imports no app: the switch and the sockets depend on it, never the other way round.
"""

from realtime.protocol import RESET, WAKE, DirectLayer, SwitchLayer, direct_layer, switch_layer

__all__ = ["RESET", "WAKE", "DirectLayer", "SwitchLayer", "direct_layer", "switch_layer"]
