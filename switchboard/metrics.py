"""The `/metrics` gauges read from the shared stores when scraped: queue depth and the oldest wait (the
switch's one definition of the customer's wait), open offers, Celery's backlog. Registered on
core.metrics.REGISTRY by SwitchboardConfig.ready (the project app may read every app)."""

from __future__ import annotations

from django.conf import settings
from prometheus_client.core import GaugeMetricFamily

from core.redis import redis_client
from imsubsystem.selectors import queue_live
from routing.models import Offer, OfferStatus, Queue

CELERY_QUEUES = ("default", "gateway", "routing", "media", "bots")


class SharedStateCollector:
    """Queue depth, oldest wait, open offers and Celery backlog, read from the shared stores."""

    def describe(self):
        # Registering must not query the database (it may not be reachable yet): describe nothing.
        return []

    def collect(self):
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
        broker = settings.CELERY_BROKER_URL
        if broker.startswith(("redis", "sentinel")):
            backlog = GaugeMetricFamily("switchboard_celery_queue_length", "Tasks waiting, by queue.", labels=["queue"])
            # A `sentinel://` broker is the deployment's Redis through Sentinel (settings.REDIS_SERVER).
            server = broker if broker.startswith("redis") else settings.REDIS_SERVER
            client = redis_client(server, socket_timeout=1, max_connections=1, timeout=1)
            try:
                pipe = client.pipeline()
                for queue in CELERY_QUEUES:
                    pipe.llen(queue)
                for queue, length in zip(CELERY_QUEUES, pipe.execute(), strict=True):
                    backlog.add_metric([queue], length)
            finally:
                client.close()
                client.connection_pool.disconnect()
            yield backlog


SHARED_STATE = SharedStateCollector()
