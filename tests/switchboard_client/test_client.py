"""The protocol client's own rules, fed frames without a server: the resume point stays under a hole
until it fills, a hole asks for a resume from there, unacknowledged messages go again with the same
client_id on every (re)connection, refusals are answered as the widget answers them; and one reconnect
over a real WebSocket (a tiny server in the test, which drops the first connection)."""

from __future__ import annotations

import asyncio
import json

from websockets.asyncio.server import serve

from switchboard_client import Agent, Customer, Screen
from switchboard_client import peer as peer_module

BASE = "http://127.0.0.1:1"


class FakeSocket:
    """What a peer sends, and whether it was dropped."""

    def __init__(self) -> None:
        self.sent: list[dict] = []
        self.aborted = False
        self.transport = self

    async def send(self, text: str) -> None:
        self.sent.append(json.loads(text))

    async def close(self) -> None:
        pass

    def abort(self) -> None:
        self.aborted = True


def message(seq: int, *, conversation_id: int = 7, kind: str = "agent", client_id: str | None = None) -> dict:
    return {
        "id": 1000 * conversation_id + seq,
        "conversation_id": conversation_id,
        "seq": seq,
        "client_id": client_id,
        "sender": {"kind": kind, "name": kind},
        "text": f"m{seq}",
        "attachments": [],
        "private": False,
        "created_at": "2026-01-01T00:00:00Z",
    }


def new(seq: int, **kw) -> dict:
    return {"type": "message.new", "message": message(seq, **kw)}


async def idle(peer) -> None:
    """Let the peer's background sends finish."""
    for _ in range(200):
        if not peer.busy:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("background sends never finished")


async def customer_on_socket() -> tuple[Customer, FakeSocket]:
    customer = Customer(BASE, "token-1")
    customer.ws = FakeSocket()
    customer.on_frame({"type": "ready", "conversation_id": 7, "last_seq": 0})
    return customer, customer.ws


# --- the screen ----------------------------------------------------------------------------------
def test_the_resume_point_stays_under_a_hole_until_it_is_filled():
    screen = Screen()
    for seq in (1, 2, 4, 5):
        assert screen.add(message(seq)) == "new"
    assert screen.last_seq(7) == 2
    assert screen.above_hole(message(6))
    screen.add(message(3))
    assert screen.last_seq(7) == 5
    assert not screen.above_hole(message(6))


def test_a_hidden_seq_counts_as_here_and_is_not_shown():
    screen = Screen()
    screen.add(message(1))
    screen.add(message(3))
    assert screen.last_seq(7) == 1
    screen.hide(7, 2)
    assert screen.last_seq(7) == 3
    assert screen.shown(7) == [(1, 7001), (3, 7003)]
    assert screen.hidden_seqs(7) == [2]


def test_a_replay_overlapping_is_a_repeat_and_another_message_at_a_seq_is_a_conflict():
    screen = Screen()
    screen.add(message(1))
    assert screen.add(message(1)) == "repeat"
    assert screen.add({**message(1), "id": 99}) == "conflict"
    assert screen.shown(7) == [(1, 7001)]
    assert screen.last_seq(None) == 0 and screen.shown(None) == []


# --- holes and resume ----------------------------------------------------------------------------
async def test_a_message_above_a_hole_asks_for_a_resume_from_the_last_complete_seq():
    customer, ws = await customer_on_socket()
    customer.on_frame(new(1))
    customer.on_frame(new(3))  # seq 2 was lost on the way
    await idle(customer)
    assert ws.sent == [{"type": "resume", "after_seq": 1}]
    # Another hole within two seconds asks nothing more: the resume under way covers it.
    customer.on_frame(new(5))
    await idle(customer)
    assert ws.sent == [{"type": "resume", "after_seq": 1}]
    # The replay fills the holes and repeats what was there; repeats are dropped by seq.
    for seq in (2, 3, 4, 5):
        customer.on_frame(new(seq))
    assert customer.screen.shown(7) == [(s, 7000 + s) for s in range(1, 6)]
    assert customer.screen.last_seq(7) == 5
    assert customer.errors == []


async def test_the_agent_resumes_each_conversation_it_gets_and_each_it_holds_on_reconnect():
    agent = Agent(BASE, "sessionid=abc")
    agent.ws = ws = FakeSocket()
    agent.connections = 1
    agent.on_frame(
        {
            "type": "agent.ready",
            "user": {"id": 5},
            "conversations": [
                {"id": 7, "status": "assigned", "assignee_id": 5},
                {"id": 8, "status": "assigned", "assignee_id": 6},
            ],
        }
    )
    agent.on_frame({"type": "conversation.assigned", "conversation": {"id": 9}, "agent": {"id": 5}})
    await idle(agent)
    assert ws.sent == [
        {"type": "resume", "conversation_id": 7, "after_seq": 0},
        {"type": "resume", "conversation_id": 9, "after_seq": 0},
    ]
    for seq in (1, 2, 4):
        agent.on_frame(new(seq, conversation_id=9))
    await idle(agent)
    agent.on_frame({"type": "conversation.assigned", "conversation": {"id": 7}, "agent": {"id": 6}})
    assert agent.held() == [9]
    assert agent.greeting() == [
        {"type": "presence.set", "status": "available"},
        {"type": "resume", "conversation_id": 9, "after_seq": 2},
    ]


# --- sending, acks and resending -----------------------------------------------------------------
async def test_unacknowledged_messages_go_again_with_the_same_client_id_after_a_reconnect():
    customer, ws = await customer_on_socket()
    acked_once: list[str] = []
    customer.on_ack = lambda client_id, message, now: acked_once.append(client_id)
    first = await customer.send("one")
    second = await customer.send("two")
    assert [f["client_id"] for f in ws.sent] == [first, second]
    customer.on_frame({"type": "message.ack", "client_id": first, "message": message(1, client_id=first)})
    customer.on_frame({"type": "message.ack", "client_id": first, "message": message(1, client_id=first)})
    assert acked_once == [first]
    assert customer.acked == {first} and list(customer.unacked) == [second]
    # The socket dies; the next connection authenticates from the resume point, then sends again.
    assert customer.greeting() == [
        {"type": "auth", "token": "token-1", "after_seq": 1},
        {"type": "message.send", "client_id": second, "text": "two"},
    ]


async def test_an_agent_sends_into_a_conversation_and_answers_every_nth_customer_message():
    agent = Agent(BASE, "sessionid=abc", reply_every=2)
    agent.ws = ws = FakeSocket()
    agent.on_frame(new(1, kind="customer"))
    agent.on_frame(new(2, kind="customer"))
    agent.on_frame(new(2, kind="customer"))  # a replay's repeat is not answered twice
    agent.on_frame(new(4, kind="agent"))
    await idle(agent)
    replies = [f for f in ws.sent if f["type"] == "message.send"]
    assert replies == [
        {"type": "message.send", "client_id": replies[0]["client_id"], "conversation_id": 7, "text": "re m2"}
    ]
    assert list(agent.unacked) == [replies[0]["client_id"]]


async def test_a_rate_limited_message_goes_again_with_the_same_client_id(monkeypatch):
    monkeypatch.setattr(peer_module.random, "random", lambda: 0.0)
    customer, ws = await customer_on_socket()
    client_id = await customer.send("hello")
    customer.on_frame({"type": "error", "code": "rate_limited", "detail": "slow down", "client_id": client_id})
    await idle(customer)
    assert [f["client_id"] for f in ws.sent] == [client_id, client_id]
    assert customer.rate_limited == 1 and customer.errors == []


async def test_a_rate_limited_resume_is_asked_again_once(monkeypatch):
    monkeypatch.setattr(peer_module.random, "random", lambda: 0.0)
    customer, ws = await customer_on_socket()
    customer.on_frame(new(1))
    customer.on_frame({"type": "error", "code": "rate_limited", "detail": "slow down"})
    customer.on_frame({"type": "error", "code": "rate_limited", "detail": "slow down"})
    await idle(customer)
    assert ws.sent == [{"type": "resume", "after_seq": 1}]


# --- refusals ------------------------------------------------------------------------------------
async def test_an_auth_that_failed_half_way_drops_the_socket_and_other_refusals_are_errors():
    customer, ws = await customer_on_socket()
    customer.on_frame({"type": "error", "code": "internal", "detail": "Please reconnect.", "command": "auth"})
    assert ws.aborted and customer.half_open == 1 and customer.errors == []
    customer.on_frame({"type": "error", "code": "not_found", "detail": "No such conversation."})
    assert customer.errors == ["not_found"]
    customer.on_frame(new(1))
    customer.on_frame({**new(1), "message": {**message(1), "id": 5}})
    assert customer.errors == ["not_found", "two_messages_at_one_seq"]


async def test_offers_are_accepted_once_per_connection_or_kept_when_not_accepting():
    agent = Agent(BASE, "sessionid=abc")
    agent.ws = ws = FakeSocket()
    agent.connections = 1
    offer = {"type": "offer", "offer_id": "o1", "conversation": {"id": 7}, "expires_at": "x"}
    agent.on_frame(offer)
    agent.on_frame(offer)
    await idle(agent)
    assert ws.sent == [{"type": "offer.accept", "offer_id": "o1"}]
    agent.connections = 2  # shown again after a reconnect: the first answer may have died with the socket
    agent.on_frame(offer)
    agent.on_frame({"type": "error", "code": "offer_gone", "detail": "gone", "command": "offer.accept"})
    await idle(agent)
    assert ws.sent == [{"type": "offer.accept", "offer_id": "o1"}] * 2
    assert agent.gone == 1 and agent.errors == []

    keeper = Agent(BASE, "sessionid=abc", accepting=False)
    keeper.ws = FakeSocket()
    keeper.on_frame(offer)
    keeper.on_frame({**offer, "offer_id": "o2", "conversation": {"id": 8}})
    keeper.on_frame({"type": "offer.closed", "offer_id": "o2"})
    await idle(keeper)
    assert keeper.offers == {"o1": 7} and keeper.ws.sent == []


# --- one reconnect over a real WebSocket ----------------------------------------------------------
async def test_a_dropped_socket_reconnects_resumes_and_resends_over_a_real_websocket():
    connections: list[list[dict]] = []

    async def server(ws):
        frames: list[dict] = []
        connections.append(frames)
        async for raw in ws:
            frame = json.loads(raw)
            frames.append(frame)
            if frame["type"] == "auth":
                await ws.send(json.dumps({"type": "ready", "conversation_id": 7, "last_seq": 1}))
                if len(connections) == 1:
                    await ws.send(json.dumps(new(1)))
            elif frame["type"] == "message.send" and len(connections) == 1:
                ws.transport.abort()  # the network goes before the ack
                return
            elif frame["type"] == "message.send":
                ack = message(2, kind="customer", client_id=frame["client_id"])
                await ws.send(json.dumps({"type": "message.ack", "client_id": frame["client_id"], "message": ack}))

    async with serve(server, "127.0.0.1", 0) as running:
        port = running.sockets[0].getsockname()[1]
        customer = Customer(f"http://127.0.0.1:{port}", "token-1")
        await customer.open(timeout=10)
        await asyncio.wait_for(customer.ready.wait(), 10)
        await asyncio.sleep(0.1)  # seq 1 arrives
        client_id = await customer.send("hello")
        for _ in range(100):
            if not customer.unacked:
                break
            await asyncio.sleep(0.05)
        await customer.close()

    assert customer.reconnects >= 1 and customer.acked == {client_id}
    assert len(connections) >= 2
    first, second = connections[0], connections[-1]
    assert first[0] == {"type": "auth", "token": "token-1", "after_seq": 0}
    assert second == [
        {"type": "auth", "token": "token-1", "after_seq": 1},
        {"type": "message.send", "client_id": client_id, "text": "hello"},
    ]
    assert customer.screen.shown(7) == [(1, 7001), (2, 7002)]
    assert customer.errors == []
