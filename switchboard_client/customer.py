"""The customer's side of `/ws/v1/widget/`, as the widget speaks it."""

from __future__ import annotations

from switchboard_client.peer import Peer


class Customer(Peer):
    """A widget session's socket: `auth` with the session token and the resume point on every connect,
    then the messages not acknowledged yet. Its conversation is the one `ready` or an ack names."""

    path = "/ws/v1/widget/"

    def __init__(self, base: str, token: str) -> None:
        super().__init__(base)
        self.token = token
        self.conversation_id: int | None = None

    def opening_frames(self) -> list[dict]:
        return [{"type": "auth", "token": self.token, "after_seq": self.screen.last_seq(self.conversation_id)}]

    def held(self) -> list[int]:
        return [self.conversation_id] if self.conversation_id else []

    def resume_frame(self, conversation_id: int) -> dict:
        return {"type": "resume", "after_seq": self.screen.last_seq(conversation_id)}

    def handle(self, frame: dict, now: float) -> None:
        kind = frame.get("type")
        if kind == "ready":
            if frame.get("conversation_id"):
                self.conversation_id = frame["conversation_id"]
            self.ready.set()
        elif kind == "message.ack":
            self.conversation_id = frame["message"]["conversation_id"]
        super().handle(frame, now)

    def queue_text(self, text: str) -> str:
        """Keep a message to send (the next connection sends it if `transmit` is not called)."""
        return self.queue(text=text)

    async def send(self, text: str) -> str:
        client_id = self.queue_text(text)
        await self.transmit(client_id)
        return client_id
