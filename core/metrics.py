"""Prometheus metrics: counters and histograms the code updates, and gauges read at scrape time.

Each daphne process and each Celery worker keeps its own counters; Prometheus scrapes every daphne
process at `/metrics` (docs/performance.md). The gauges that describe shared state (queue depth, oldest
wait, open offers, Celery queue lengths) are read from MySQL and Redis when scraped by the project app's
collector (switchboard/metrics.py, registered on this registry when the app is ready), so any one
process reports the same truth and this module imports no app.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from realtime.metrics import LAYER_RESETS

REGISTRY = CollectorRegistry(auto_describe=True)

MESSAGES_IN = Counter(
    "switchboard_messages_in_total",
    "Messages stored by the switch, by sender kind and channel kind.",
    ["sender_kind", "channel"],
    registry=REGISTRY,
)
MESSAGES_OUT = Counter(
    "switchboard_messages_out_total",
    "message.new frames written to sockets, by socket kind.",
    ["socket"],
    registry=REGISTRY,
)
DELIVERY_LATENCY = Histogram(
    "switchboard_delivery_latency_seconds",
    "From a message's commit to its frame being written to a socket.",
    ["socket"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
    registry=REGISTRY,
)
WEBSOCKETS = Gauge(
    "switchboard_websocket_connections",
    "Open WebSocket connections in this process, by socket kind.",
    ["socket"],
    registry=REGISTRY,
)
OFFERS = Counter(
    "switchboard_offers_total",
    "Routing offers by outcome (created, accepted, rejected, expired, cancelled).",
    ["outcome"],
    registry=REGISTRY,
)
OUTBOX = Counter(
    "switchboard_outbox_total",
    "Platform sends by channel and result (sent, retry, failed).",
    ["channel", "result"],
    registry=REGISTRY,
)
REPLICA_FALLBACK_READS = Counter(
    "switchboard_replica_fallback_reads_total",
    "Reads that may lag (reports, staffing) sent to the primary because the replica did not answer.",
    registry=REGISTRY,
)

# The channel layer's counters live with it (realtime/metrics.py); /metrics serves them from here.
REGISTRY.register(LAYER_RESETS)


def render() -> bytes:
    return generate_latest(REGISTRY)
