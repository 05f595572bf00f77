"""The benchmarks' work on the server's database, with Django set up: the scene before a run (an inbox, a
queue, agents, widget sessions) and the check of the end state after it.

The load generator runs it in a process of its own with the server's environment (bench/server.py,
`django_call`), and prints nothing but JSON:

    python -m bench.database relay-setup AGENTS CUSTOMERS    # {"inbox", "queue"}
    python -m bench.database relay-verify < ids.json         # the relay's end state against MySQL
    python -m bench.database idle-sessions COUNT             # COUNT widget session tokens
    python -m bench.database api-setup MESSAGES              # {"conversation", "username", "key"}

The functions import Django's models only when called, so the module imports without Django settings.
"""

from __future__ import annotations

import json
import sys

AGENT_PASSWORD = "bench-password"


def relay_setup(*, agents: int, customers: int) -> dict:
    """The relay's scene: queue "Bench", the web inbox "bench" on it, and `agents` agents
    (bench-agent-0...) in the queue, offline, with room for every customer between them."""
    from django.contrib.auth import get_user_model

    from crm.roles import AGENT, roles_sync, user_set_role
    from imsubsystem.models import Inbox
    from routing.models import AgentProfile, Queue

    roles_sync()
    queue, _ = Queue.objects.get_or_create(name="Bench", defaults={"policy": "least_busy", "offer_timeout_s": 60})
    inbox, _ = Inbox.objects.get_or_create(
        key="bench", defaults={"kind": "web", "name": "Bench", "default_queue": queue}
    )
    User = get_user_model()
    capacity = customers // agents + 2
    for i in range(agents):
        user, created = User.objects.get_or_create(username=f"bench-agent-{i}")
        if created:
            user.set_password(AGENT_PASSWORD)
            user.save()
        user_set_role(user=user, role=AGENT)
        profile, _ = AgentProfile.objects.get_or_create(user=user)
        profile.default_capacity = capacity
        profile.capacity = {}
        profile.status = "offline"
        profile.save()
        profile.queues.add(queue)
    return {"inbox": inbox.key, "queue": queue.pk}


def idle_sessions(*, count: int) -> list[str]:
    """`count` widget sessions on the web inbox "idle"; their tokens."""
    from imsubsystem import auth
    from imsubsystem.models import Inbox
    from routing.models import Queue

    queue, _ = Queue.objects.get_or_create(name="Idle")
    inbox, _ = Inbox.objects.get_or_create(key="idle", defaults={"kind": "web", "name": "Idle", "default_queue": queue})
    return [auth.widget_session_create(inbox=inbox, name=f"idle {n}")[0] for n in range(count)]


def api_setup(*, messages: int) -> dict:
    """The message-list benchmark's scene (bench/api_messages.py): agent "bench-api-agent" (password
    AGENT_PASSWORD) holding one conversation of `messages` messages, customer's and agent's alternately,
    stored through the switch's write path; and a read-only API key of that agent."""
    from django.contrib.auth import get_user_model

    from api.tokens import token_create
    from crm.models import Contact
    from crm.roles import AGENT, roles_sync, user_set_role
    from imsubsystem import services as switch
    from imsubsystem.models import Conversation, Inbox, SenderKind
    from routing.models import AgentProfile, Queue

    roles_sync()
    queue, _ = Queue.objects.get_or_create(name="Bench API")
    inbox, _ = Inbox.objects.get_or_create(
        key="bench-api", defaults={"kind": "web", "name": "Bench API", "default_queue": queue}
    )
    user, created = get_user_model().objects.get_or_create(username="bench-api-agent")
    if created:
        user.set_password(AGENT_PASSWORD)
        user.save()
    user_set_role(user=user, role=AGENT)
    AgentProfile.objects.get_or_create(user=user)[0].queues.add(queue)
    contact = Contact.objects.create(name="Bench customer")
    # Held by the agent as routing would leave it; the benchmark only reads it.
    conversation = Conversation.objects.create(
        contact=contact, inbox=inbox, queue=queue, assignee=user, status="assigned"
    )
    for n in range(messages):
        by_agent = n % 2 == 1
        switch.message_send(
            conversation_id=conversation.pk,
            sender_kind=SenderKind.AGENT if by_agent else SenderKind.CUSTOMER,
            sender_user_id=user.pk if by_agent else None,
            text=f"{'Agent' if by_agent else 'Customer'} message {n}: " + "lorem ipsum " * 8,
            client_id=f"bench-{n}",
        )
    _, key = token_create(user=user, name="bench", scope="read")
    return {"conversation": conversation.pk, "username": user.username, "key": key}


def relay_verify(ids: dict) -> dict:
    """The end state against MySQL: acknowledged messages stored once, seq 1..N per conversation, every
    screen equal to MySQL's conversation, every conversation held by one agent, and the switch and
    routing agreeing on who. `ids` is what the relay's drive() returned last."""
    from imsubsystem.models import Conversation, Message
    from routing.models import WorkItem, WorkStatus

    conv_ids, acked = ids["conversations"], set(ids["acked"])
    rows = list(
        Message.objects.filter(conversation_id__in=conv_ids).values_list("conversation_id", "seq", "client_id", "id")
    )
    by_client: dict[str, int] = {}
    by_conversation: dict[int, list[list[int]]] = {}
    for conv, seq, client_id, pk in rows:
        if client_id:
            by_client[client_id] = by_client.get(client_id, 0) + 1
        by_conversation.setdefault(conv, []).append([seq, pk])
    gaps = 0
    for conv in Conversation.objects.filter(pk__in=conv_ids):
        seqs = sorted(s for s, _ in by_conversation.get(conv.pk, []))
        if seqs != list(range(1, len(seqs) + 1)) or (seqs and seqs[-1] != conv.last_seq):
            gaps += 1
    screens_differ = 0
    differ_sample = []
    for screen in ids.get("screens", []):
        hidden = set(screen.get("hidden", ()))
        stored = sorted(m for m in by_conversation.get(screen["conversation"], []) if m[0] not in hidden)
        shown = [list(m) for m in screen["messages"]]
        if shown != stored:
            screens_differ += 1
            if len(differ_sample) < 5:
                differ_sample.append(
                    {
                        "client": screen.get("client"),
                        "conversation": screen["conversation"],
                        "missing_seqs": sorted(s for s, _ in stored if [s, _] not in shown),
                        "extra_seqs": sorted(s for s, _ in shown if [s, _] not in stored),
                        "last_stored_seq": stored[-1][0] if stored else 0,
                    }
                )
    assigned = dict(Conversation.objects.filter(pk__in=conv_ids, status="assigned").values_list("pk", "assignee_id"))
    work = dict(WorkItem.objects.filter(ref__in=conv_ids, status=WorkStatus.ASSIGNED).values_list("ref", "agent_id"))
    held = {int(c): agents for c, agents in ids.get("held", {}).items()}
    return {
        "db_messages": len(rows),
        "db_duplicated": sum(n - 1 for n in by_client.values() if n > 1),
        "db_missing": len([c for c in acked if c not in by_client]),
        "seq_gaps": gaps,
        "never_acked": ids.get("unacked", 0),
        "screens_checked": len(ids.get("screens", [])),
        "screens_differ": screens_differ,
        "screens_differ_sample": differ_sample,
        "held_twice": sum(1 for agents in held.values() if len(agents) > 1),
        "holder_mismatch": sum(
            1
            for c in set(assigned) | set(work) | set(held)
            if not (assigned.get(c) == work.get(c) == (held.get(c) or [None])[0])
        ),
    }


def main(argv: list[str]) -> object:
    import django

    django.setup()
    command, *args = argv
    if command == "relay-setup":
        return relay_setup(agents=int(args[0]), customers=int(args[1]))
    if command == "relay-verify":
        return relay_verify(json.loads(sys.stdin.read()))
    if command == "idle-sessions":
        return idle_sessions(count=int(args[0]))
    if command == "api-setup":
        return api_setup(messages=int(args[0]))
    raise SystemExit(f"unknown command {command!r}: relay-setup, relay-verify, idle-sessions or api-setup")


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1:])))
