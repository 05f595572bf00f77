"""One customer's unstorable text never costs another customer a message.

A lone UTF-16 surrogate ("\\ud800") is valid JSON but not text MySQL can store. Twenty-five widget
clients write at once over real WebSockets to a real daphne (the production profile: MySQL, Redis), so
their messages share the switch's batches; one of them sends such text among its honest messages.
Every honest message is acknowledged once and stored once; each poisoned one alone is refused with
`invalid`, and nothing of it is stored. Over HTTP the same text is a 400 `invalid`, not a 500.
"""

from __future__ import annotations

import asyncio
import json
import uuid

import httpx
import pytest
from websockets.asyncio.client import connect

from imsubsystem import auth
from imsubsystem.models import Message
from tests.browser.conftest import live_server_url  # noqa: F401 - the module's daphne
from tests.factories import InboxFactory, QueueFactory
from tests.gateway.conftest import stand_in  # noqa: F401 - fixtures of the switch's own tests
from tests.imsubsystem.conftest import (  # noqa: F401
    _no_bots,
    frame_log,
    inbox,
    make_agent,
    queue,
    routing_backend,
    supervisor_user,
    widget_session,
)

pytestmark = pytest.mark.django_db(transaction=True)

CLIENTS = 25
MESSAGES = 15  # each; under the customer's burst of 20, so the rate limit refuses none
POISONED_EVERY = 3  # of the poisoned client's messages, every third is unstorable
LONE_SURROGATE = "\\ud800"  # as it travels in raw JSON: a \u escape of a lone high surrogate


def _frame(client_id: str, text_json: str) -> str:
    """A message.send frame written by hand, so the escape reaches the server as sent."""
    return f'{{"type":"message.send","client_id":"{client_id}","text":"{text_json}"}}'


async def _client(ws_url: str, token: str, *, poisoned: bool) -> dict:
    honest, bad = {}, set()
    async with connect(f"{ws_url}/ws/v1/widget/", open_timeout=20, max_queue=None) as ws:
        await ws.send(json.dumps({"type": "auth", "token": token, "after_seq": 0}))
        while json.loads(await asyncio.wait_for(ws.recv(), 20))["type"] != "ready":
            pass
        for n in range(MESSAGES):
            client_id = str(uuid.uuid4())
            if poisoned and n % POISONED_EVERY == 1:
                bad.add(client_id)
                await ws.send(_frame(client_id, f"bad {n} {LONE_SURROGATE} text"))
            else:
                honest[client_id] = f"message {n} from {token[:6]}"
                await ws.send(_frame(client_id, honest[client_id]))
        acks: dict[str, list[dict]] = {}
        errors: dict[str, list[str]] = {}
        while sum(map(len, acks.values())) + sum(map(len, errors.values())) < MESSAGES:
            frame = json.loads(await asyncio.wait_for(ws.recv(), 30))
            if frame["type"] == "message.ack":
                acks.setdefault(frame["client_id"], []).append(frame)
            elif frame["type"] == "error":
                errors.setdefault(frame.get("client_id", ""), []).append(frame["code"])
    return {"honest": honest, "bad": bad, "acks": acks, "errors": errors}


async def _run(base: str, tokens: list[str]) -> list[dict]:
    ws_url = base.replace("http", "ws")
    return await asyncio.gather(*(_client(ws_url, token, poisoned=n == 0) for n, token in enumerate(tokens)))


def test_a_poisoned_sender_under_load_fails_no_one_else(live_server_url):
    inbox = InboxFactory(key="load", kind="web", default_queue=QueueFactory(name="Load"))
    tokens = [auth.widget_session_create(inbox=inbox, name=f"Customer {n}")[0] for n in range(CLIENTS)]

    results = asyncio.run(_run(live_server_url, tokens))

    poisoned, others = results[0], results[1:]
    assert len(poisoned["bad"]) == MESSAGES // POISONED_EVERY
    for result in results:
        # Every honest message acknowledged exactly once, and no error for any of them.
        assert {cid: len(a) for cid, a in result["acks"].items()} == dict.fromkeys(result["honest"], 1)
        assert not set(result["errors"]) & set(result["honest"]), result["errors"]
    for other in others:
        assert other["errors"] == {}
    # Each unstorable message refused alone, as `invalid`, never `internal`.
    assert poisoned["errors"] == {cid: ["invalid"] for cid in poisoned["bad"]}

    stored = dict(Message.objects.values_list("client_id", "text"))
    honest = {cid: text for result in results for cid, text in result["honest"].items()}
    assert stored == honest  # each honest message once, with its text; nothing of the poisoned ones
    assert Message.objects.count() == len(honest) == CLIENTS * MESSAGES - len(poisoned["bad"])

    # Over HTTP the same text is refused the same way: 400 invalid, not a 500.
    body = _frame("http-1", f"bad {LONE_SURROGATE} text").encode()
    response = httpx.post(
        f"{live_server_url}/api/v1/widget/messages",
        content=body,
        headers={"Authorization": f"Bearer {tokens[0]}", "Content-Type": "application/json"},
        timeout=20,
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "invalid"
    assert not Message.objects.filter(client_id="http-1").exists()
