"""Test helpers for the channel layer: the layer the tests' settings configure, wrapped to record."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from channels.layers import DEFAULT_CHANNEL_LAYER, channel_layers

from realtime import switch_layer
from realtime.memory import RecordingChannelLayer, recording


@contextlib.contextmanager
def recording_layer(*, on_send: Callable[[str, dict[str, Any]], None] | None = None) -> Iterator[RecordingChannelLayer]:
    """The configured layer (ours or channels-redis's on Redis, per CHANNEL_LAYER_BACKEND) wrapped in a
    RecordingChannelLayer for the block: sockets and services made meanwhile deliver through it."""
    layer = recording(switch_layer(), on_send=on_send)
    previous = channel_layers.set(DEFAULT_CHANNEL_LAYER, layer)
    try:
        yield layer
    finally:
        channel_layers.set(DEFAULT_CHANNEL_LAYER, previous)
