"""One of the OS processes of the multi-process routing test (test_multiprocess.py). Enqueues its share of
conversations and, racing the other processes, answers open offers, completes assigned conversations and
flips agents' presence, until every conversation is done or the deadline passes."""

from __future__ import annotations

import os
import random
import sys
import time


def main(index: int, workers: int, total: int, seconds: float) -> None:
    import django

    django.setup()
    from routing import hooks, services

    # Routing alone is under test: the switch's subscribers would look for conversations that do not exist.
    for hook in hooks.ALL:
        for receiver in hook.subscribers:
            hook.unsubscribe(receiver)
    from routing.exceptions import RoutingError
    from routing.models import AgentProfile, Offer, OfferStatus, Queue, WorkItem, WorkStatus

    rng = random.Random(index)
    queues = list(Queue.objects.values_list("pk", flat=True))
    agents = list(AgentProfile.objects.values_list("user_id", flat=True))
    pending = list(range(index + 1, total + 1, workers))
    started = time.time()
    deadline = started + seconds
    while time.time() < deadline:
        for _ in range(25):
            if pending:
                ref = pending.pop(0)
                services.work_enqueue(
                    ref=ref, queue_id=rng.choice(queues), channel_kind=rng.choice(("web", "sms")), skills=()
                )
        for offer_id, agent_id in (
            Offer.objects.filter(status=OfferStatus.OPEN).order_by("?").values_list("pk", "agent_id")[:12]
        ):
            try:
                if rng.random() < 0.85:
                    services.offer_accept(offer_id=offer_id, agent_id=agent_id)
                else:
                    services.offer_reject(offer_id=offer_id, agent_id=agent_id)
            except RoutingError:
                pass  # another process answered it first
        for ref in WorkItem.objects.filter(status=WorkStatus.ASSIGNED).order_by("?").values_list("ref", flat=True)[:10]:
            services.work_complete(ref=ref)
        if rng.random() < 0.2:
            services.agent_presence_set(agent_id=rng.choice(agents), status=rng.choice(("available", "away")))
            services.agent_presence_set(agent_id=rng.choice(agents), status="available")
        if (
            not pending
            and not WorkItem.objects.filter(
                status__in=(WorkStatus.WAITING, WorkStatus.OFFERED, WorkStatus.ASSIGNED)
            ).exists()
        ):
            break


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    main(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]))
