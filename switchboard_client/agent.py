"""The agent's side of `/ws/v1/agent/`, as the console speaks it."""

from __future__ import annotations

from switchboard_client.peer import Peer


class Agent(Peer):
    """An agent console: available on every connect, resumes each conversation it holds, accepts offers
    (unless `accepting` is off, when it only keeps them in `offers`), loads a conversation's history
    when it gets one, and, with `reply_every=n`, answers every customer message whose seq is a multiple
    of n. What it holds is what its frames said: `agent.ready`, `conversation.assigned`,
    `conversation.released`."""

    path = "/ws/v1/agent/"

    def __init__(self, base: str, cookie: str, *, accepting: bool = True, reply_every: int = 0) -> None:
        super().__init__(base)
        self.cookie = cookie  # the Cookie header: "sessionid=..."
        self.accepting = accepting
        self.reply_every = reply_every
        self.user_id: int | None = None
        self.conversations: set[int] = set()  # held now, as this console was told
        self.offers: dict[str, int] = {}  # open offers: offer id -> conversation
        self.accepted: dict[str, int] = {}  # offer id -> the connection it was accepted on
        self.gone = 0  # accepts answered offer_gone (answered twice, or withdrawn meanwhile)

    def headers(self) -> dict[str, str]:
        return {"Origin": self.base, "Cookie": self.cookie}

    def opening_frames(self) -> list[dict]:
        presence = {"type": "presence.set", "status": "available"}
        return [presence, *(self.resume_frame(c) for c in self.held())]

    def held(self) -> list[int]:
        return sorted(self.conversations)

    def resume_frame(self, conversation_id: int) -> dict:
        return {
            "type": "resume",
            "conversation_id": conversation_id,
            "after_seq": self.screen.last_seq(conversation_id),
        }

    def hold(self, conversation_id: int) -> None:
        if conversation_id not in self.conversations:
            self.conversations.add(conversation_id)
            self.spawn(self.send_json(self.resume_frame(conversation_id)))  # its history, as the console loads it

    def accept(self, offer_id: str) -> None:
        # Once per connection: an offer shown again after a reconnect is answered again (the first
        # answer may have died with the socket).
        if self.accepted.get(offer_id) != self.connections:
            self.accepted[offer_id] = self.connections
            self.spawn(self.send_json({"type": "offer.accept", "offer_id": offer_id}))

    def handle(self, frame: dict, now: float) -> None:
        kind = frame.get("type")
        if kind == "agent.ready":
            self.user_id = frame["user"]["id"]
            self.offers.clear()  # the open ones follow this frame
            for conversation in frame["conversations"]:
                if conversation["status"] == "assigned" and conversation["assignee_id"] == self.user_id:
                    self.hold(conversation["id"])
            self.ready.set()
        elif kind == "offer":
            self.offers[frame["offer_id"]] = frame["conversation"]["id"]
            if self.accepting:
                self.accept(frame["offer_id"])
        elif kind == "offer.closed":
            self.offers.pop(frame["offer_id"], None)
        elif kind == "conversation.assigned":
            conversation_id = frame["conversation"]["id"]
            self.offers = {o: c for o, c in self.offers.items() if c != conversation_id}
            if frame["agent"]["id"] == self.user_id:
                self.hold(conversation_id)
            else:
                self.conversations.discard(conversation_id)
        elif kind == "conversation.released":
            self.conversations.discard(frame["conversation_id"])
        elif kind == "error" and frame.get("code") == "offer_gone" and frame.get("command") == "offer.accept":
            self.gone += 1  # as a console shows it: the offer went meanwhile; routing offers on
        else:
            super().handle(frame, now)

    def on_message(self, message: dict, now: float) -> None:
        if self.reply_every and message["sender"]["kind"] == "customer" and message["seq"] % self.reply_every == 0:
            self.spawn(self.send(message["conversation_id"], f"re {message['text']}"))

    def queue_text(self, conversation_id: int, text: str) -> str:
        return self.queue(conversation_id=conversation_id, text=text)

    async def send(self, conversation_id: int, text: str) -> str:
        client_id = self.queue_text(conversation_id, text)
        await self.transmit(client_id)
        return client_id
