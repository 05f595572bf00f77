"""Four OS processes hammer the Redis backend (200 agents, 2,000 conversations); replaying the ledger in
decision order shows no conversation ever held by two agents and no agent ever above capacity."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.db import connection

from routing.models import AgentProfile, AssignmentEvent, Queue, WorkItem, WorkStatus
from routing.services import agent_sync

ROOT = Path(__file__).resolve().parents[2]
WORKERS, AGENTS, ITEMS = 4, 200, 2000
SECONDS = 32  # each worker's run; all 2,000 conversations are enqueued well before its end


def replay_ledger(capacity: dict[int, int]) -> dict[str, int]:
    kinds = dict(WorkItem.objects.values_list("ref", "channel_kind"))
    holder: dict[int, tuple[int, str] | None] = {}
    load: dict[tuple[int, str], int] = defaultdict(int)
    seen = defaultdict(int)
    peak = 0
    for e in AssignmentEvent.objects.order_by("seq").iterator(chunk_size=2000):
        seen[e.kind] += 1
        if e.ref is None:
            continue
        key = (e.agent_id, kinds[e.ref])
        current = holder.get(e.ref)
        if e.kind == "offered":
            assert current is None, f"ref {e.ref} offered to {e.agent_id} while held by {current}"
            holder[e.ref] = (e.agent_id, "offer")
            load[key] += 1
        elif e.kind == "accepted":
            assert current == (e.agent_id, "offer"), (e.ref, current)
            holder[e.ref] = (e.agent_id, "accepted")
        elif e.kind in ("rejected", "expired", "offer_cancelled"):
            assert current == (e.agent_id, "offer"), (e.ref, current)
            holder[e.ref] = None
            load[key] -= 1
        elif e.kind == "assigned":
            if current == (e.agent_id, "accepted"):
                holder[e.ref] = (e.agent_id, "assigned")
            else:
                assert current is None, f"ref {e.ref} assigned to {e.agent_id} while held by {current}"
                holder[e.ref] = (e.agent_id, "assigned")
                load[key] += 1
        elif e.kind == "released":
            assert current == (e.agent_id, "assigned"), (e.ref, current)
            holder[e.ref] = None
            load[key] -= 1
        elif e.kind == "removed":
            assert current is None
        assert load[key] <= capacity[e.agent_id] if e.agent_id else True, f"agent {e.agent_id} over capacity"
        peak = max(peak, load[key]) if e.agent_id else peak
    seqs = list(AssignmentEvent.objects.values_list("seq", flat=True))
    assert len(seqs) == len(set(seqs)), "a decision number was written twice"
    return {**seen, "peak_load": peak}


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_four_processes_never_double_assign_or_overfill(settings):
    from routing.backends import channel_kinds, set_backend
    from routing.backends.redis import RedisBackend

    previous = set_backend(RedisBackend({"url": settings.REDIS_URL}, channel_kinds=channel_kinds()))
    try:
        queues = [Queue.objects.create(name=f"MP {n}", offer_timeout_s=30) for n in range(2)]
        User = get_user_model()
        User.objects.bulk_create([User(username=f"mp-agent-{n}") for n in range(AGENTS)])
        users = list(User.objects.filter(username__startswith="mp-agent-").order_by("pk"))
        capacity = {u.pk: 1 + n % 3 for n, u in enumerate(users)}
        AgentProfile.objects.bulk_create(
            [AgentProfile(user=u, default_capacity=capacity[u.pk], status="available") for u in users]
        )
        for n, profile in enumerate(AgentProfile.objects.filter(user__in=users)):
            profile.queues.set(queues if n % 2 else queues[:1])
            agent_sync(profile=profile)

        db = connection.settings_dict
        env = {
            **os.environ,
            "DATABASE_URL": f"mysql://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 3306}/{db['NAME']}",
            "REDIS_URL": settings.REDIS_URL,
            "ROUTING_BACKEND": "routing.backends.redis.RedisBackend",
            "PYTHONPATH": str(ROOT),
        }
        if db.get("PASSWORD"):
            env["DATABASE_URL"] = env["DATABASE_URL"].replace(f"{db['USER']}@", f"{db['USER']}:{db['PASSWORD']}@")
        procs = [
            subprocess.Popen(
                [sys.executable, "-m", "tests.routing.mp_worker", str(i), str(WORKERS), str(ITEMS), str(SECONDS)],
                cwd=ROOT,
                env=env,
            )
            for i in range(WORKERS)
        ]
        for proc in procs:
            assert proc.wait(timeout=90) == 0

        assert WorkItem.objects.count() == ITEMS
        seen = replay_ledger(capacity)
        assert seen["offered"] >= ITEMS // 2 and seen["accepted"] > 0 and seen["released"] > 0
        # MySQL and Redis agree on what is still open.
        backend_states = {}
        for item in WorkItem.objects.exclude(status__in=(WorkStatus.COMPLETED, WorkStatus.CANCELLED)):
            backend_states[item.ref] = item.status
        from routing.backends import get_backend

        for ref, status in backend_states.items():
            assert get_backend().work_get(ref=ref)["state"] == status
    finally:
        set_backend(previous)
