"""Authorise, then subscribe, then replay: a socket that asks to `resume` a conversation it may not see
never receives a frame of it, however often it asks and however busy the conversation is.

Real processes: one daphne behind nginx on the Redis channel layer (tests/faults/support.py). A customer
(widget socket) and the assigned agent (agent socket) write into one conversation, customer messages and
private notes, about twenty frames a second. Meanwhile an agent of the same team and a supervisor of
another team each send `resume` for that conversation twenty times a second. Each resume is answered
`not_found`, and not one frame of the conversation reaches either of them; the assigned agent, as a
control, receives the customer's messages live.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid

import pytest
from websockets.asyncio.client import connect

from imsubsystem import auth, services
from tests.factories import ContactFactory, UserFactory
from tests.security.conftest import mentions, session_cookie

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

DURATION_S = 6.0
RESUMES_PER_S = 20


async def _open(url: str, base: str, cookie: str | None = None):
    headers = {"Origin": base}
    if cookie:
        headers["Cookie"] = cookie
    return await connect(url, additional_headers=headers)


async def _read_all(ws, into: list[dict]) -> None:
    try:
        async for raw in ws:
            into.append(json.loads(raw))
    except Exception:  # the socket closed at the end of the run
        pass


def test_hammering_resume_on_a_foreign_busy_conversation_receives_none_of_it(start_cluster, teams):
    from crm.roles import AGENT

    owner, supervisor_b = teams["ag_a"], teams["sup_b"]
    colleague = UserFactory(username="ag-a2", role=AGENT)  # same team, not assigned
    token, session = auth.widget_session_create(inbox=teams["sales_inbox"], name="Busy customer")
    first, _ = services.customer_message_send(
        inbox_id=teams["sales_inbox"].pk, contact_id=session.contact_id, text="Hello", client_id="c0"
    )
    conversation_id = first["conversation_id"]
    assert services.conversation_assign(conversation_id=conversation_id, agent_id=owner.pk)
    # Another conversation the colleague may see, so a working resume is part of the run too.
    other_contact = ContactFactory()
    mine, _ = services.customer_message_send(
        inbox_id=teams["sales_inbox"].pk, contact_id=other_contact.pk, text="Mine", client_id="m0"
    )
    assert services.conversation_assign(conversation_id=mine["conversation_id"], agent_id=colleague.pk)
    cookies = {u.pk: session_cookie(u) for u in (owner, colleague, supervisor_b)}

    cluster = start_cluster(daphnes=1)
    base, ws_base = cluster.base, cluster.base.replace("http", "ws")

    async def scenario():
        customer = await _open(f"{ws_base}/ws/v1/widget/", base)
        await customer.send(json.dumps({"type": "auth", "token": token, "after_seq": 0}))
        owner_ws = await _open(f"{ws_base}/ws/v1/agent/", base, cookies[owner.pk])
        intruders = {
            "colleague": await _open(f"{ws_base}/ws/v1/agent/", base, cookies[colleague.pk]),
            "other team's supervisor": await _open(f"{ws_base}/ws/v1/agent/", base, cookies[supervisor_b.pk]),
        }
        seen = {"customer": [], "owner": [], **{name: [] for name in intruders}}
        readers = [
            asyncio.create_task(_read_all(customer, seen["customer"])),
            asyncio.create_task(_read_all(owner_ws, seen["owner"])),
            *(asyncio.create_task(_read_all(ws, seen[name])) for name, ws in intruders.items()),
        ]
        await owner_ws.send(json.dumps({"type": "resume", "conversation_id": conversation_id, "after_seq": 0}))
        await asyncio.sleep(0.5)

        async def writers():
            n = 0
            deadline = time.monotonic() + DURATION_S
            while time.monotonic() < deadline:
                n += 1
                if n % 2:  # the widget socket's allowance is five frames a second
                    frame = {"type": "message.send", "client_id": f"c{n}", "text": f"msg {n}"}
                    await customer.send(json.dumps(frame))
                note = {"conversation_id": conversation_id, "client_id": str(uuid.uuid4()), "private": True}
                await owner_ws.send(json.dumps({"type": "message.send", **note, "text": f"secret note {n}"}))
                await asyncio.sleep(0.1)

        async def hammer(ws):
            sent = 0
            deadline = time.monotonic() + DURATION_S
            while time.monotonic() < deadline:
                await ws.send(json.dumps({"type": "resume", "conversation_id": conversation_id, "after_seq": 0}))
                sent += 1
                await asyncio.sleep(1 / RESUMES_PER_S)
            return sent

        results = await asyncio.gather(writers(), *(hammer(ws) for ws in intruders.values()))
        # The colleague's own conversation resumes fine on the same socket.
        await intruders["colleague"].send(
            json.dumps({"type": "resume", "conversation_id": mine["conversation_id"], "after_seq": 0})
        )
        await asyncio.sleep(2)  # anything still on its way arrives
        for ws in [customer, owner_ws, *intruders.values()]:
            await ws.close()
        for reader in readers:
            reader.cancel()
        return results[1:], seen

    sent, seen = asyncio.run(scenario())

    # The conversation was busy, and its frames flowed to the people in it.
    live = [f for f in seen["owner"] if f["type"] == "message.new" and f["message"]["sender"]["kind"] == "customer"]
    assert len(live) >= 20, len(live)
    notes = [f for f in seen["owner"] if f["type"] == "message.ack" and f["message"]["private"]]
    assert len(notes) >= 30, len(notes)
    for (name, frames), count in zip(list(seen.items())[2:], sent, strict=True):
        leaked = [f for f in frames if mentions(f, conversation_id)]
        assert leaked == [], (name, leaked[:5])
        refused = [f for f in frames if f["type"] == "error" and f.get("command") == "resume"]
        assert count >= RESUMES_PER_S * DURATION_S * 0.5, (name, count)
        assert {f["code"] for f in refused} <= {"not_found", "rate_limited"}, (name, refused[:3])
        assert sum(f["code"] == "not_found" for f in refused) >= count * 0.8, (name, len(refused), count)
    done = [f for f in seen["colleague"] if f["type"] == "resume.done"]
    assert [f["conversation_id"] for f in done] == [mine["conversation_id"]]
