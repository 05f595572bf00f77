"""Prometheus metrics: counters and histograms the code updates, and gauges read at scrape time.

Each daphne process and each Celery worker keeps its own counters; Prometheus scrapes every daphne
process at `/metrics` (docs/performance.md). Gauges that describe shared state (queue depth, oldest
wait, open offers, Celery queue lengths) are read from MySQL and Redis when scraped, so any one process
reports the same truth.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily

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

# The channel layer's counters live with it (realtime/metrics.py); /metrics serves them from here.
REGISTRY.register(LAYER_RESETS)

CELERY_QUEUES = ("default", "gateway", "routing", "media", "bots")


class SharedStateCollector:
    """Queue depth, oldest wait, open offers and Celery backlog, read from the shared stores."""

    def describe(self):
        # Registering must not query the database (it may not be reachable yet): describe nothing.
        return []

    def collect(self):
        from django.conf import settings

        from imsubsystem.selectors import queue_live
        from routing.models import Offer, OfferStatus, Queue

        depth = GaugeMetricFamily(
            "switchboard_queue_waiting", "Conversations waiting (queued or offered), by queue.", labels=["queue"]
        )
        oldest = GaugeMetricFamily(
            "switchboard_queue_oldest_wait_seconds",
            "The longest customer's wait among the waiting conversations (from the hand-over, across offers, "
            "overflow and transfers: docs/supervisor.md).",
            labels=["queue"],
        )
        names = dict(Queue.objects.values_list("pk", "name"))
        # The switch's one definition of the customer's wait, as on the dashboard and the sockets.
        live = queue_live()
        for pk, name in names.items():
            row = live.get(pk) or {"waiting": 0, "longest_wait_s": 0}
            depth.add_metric([name], row["waiting"])
            oldest.add_metric([name], row["longest_wait_s"])
        yield depth
        yield oldest
        open_offers = GaugeMetricFamily("switchboard_offers_open", "Offers waiting for an agent's answer.")
        open_offers.add_metric([], Offer.objects.filter(status=OfferStatus.OPEN).count())
        yield open_offers
        if settings.CELERY_BROKER_URL.startswith("redis"):
            import redis

            backlog = GaugeMetricFamily("switchboard_celery_queue_length", "Tasks waiting, by queue.", labels=["queue"])
            client = redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_timeout=1)
            try:
                pipe = client.pipeline()
                for queue in CELERY_QUEUES:
                    pipe.llen(queue)
                for queue, length in zip(CELERY_QUEUES, pipe.execute(), strict=True):
                    backlog.add_metric([queue], length)
            finally:
                client.close()
            yield backlog


REGISTRY.register(SharedStateCollector())


def render() -> bytes:
    return generate_latest(REGISTRY)
