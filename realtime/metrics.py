"""The layer's own counters. They belong to no registry here: core/metrics.py registers them on the
registry `/metrics` serves, so this package depends on nothing of the project above it."""

from __future__ import annotations

from prometheus_client import Counter

LAYER_RESETS = Counter(
    "switchboard_channel_layer_resets_total",
    "Sockets the channel layer reset (they close with 4012 and resume): overflow, or subscription lost.",
    ["reason"],
    registry=None,
)
