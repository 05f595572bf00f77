"""What a client shows: each conversation's messages by seq, and the seqs it was told are not for it."""

from __future__ import annotations

from typing import Literal

Added = Literal["new", "repeat", "conflict"]


class Screen:
    """Messages per conversation, kept by seq. A replay that overlaps what is shown is dropped by seq; a
    second message at a seq already shown is a conflict (the server never sends one).

    The resume point (`last_seq`) is the highest seq up to which everything is here, shown or known
    hidden (`message.hidden`, a note the customer may not see). A message that arrives above a hole does
    not move it, so the next resume asks for the hole again (docs/protocol.md)."""

    def __init__(self) -> None:
        self.messages: dict[int, dict[int, dict]] = {}  # conversation -> seq -> message
        self.hidden: dict[int, set[int]] = {}  # conversation -> seqs not shown to this viewer
        self._complete: dict[int, int] = {}  # conversation -> the resume point, moved up as holes fill

    def last_seq(self, conversation_id: int | None) -> int:
        """Every seq from 1 up to this one is here (0 when seq 1 is not)."""
        if conversation_id is None:
            return 0
        upto = self._complete.get(conversation_id, 0)
        shown = self.messages.get(conversation_id, {})
        hidden = self.hidden.get(conversation_id, ())
        while upto + 1 in shown or upto + 1 in hidden:
            upto += 1
        self._complete[conversation_id] = upto
        return upto

    def above_hole(self, message: dict) -> bool:
        """This message would sit above a seq that is missing: a frame was lost on the way."""
        return message["seq"] > self.last_seq(message["conversation_id"]) + 1

    def add(self, message: dict) -> Added:
        shown = self.messages.setdefault(message["conversation_id"], {})
        previous = shown.get(message["seq"])
        if previous is not None:
            return "repeat" if previous["id"] == message["id"] else "conflict"
        shown[message["seq"]] = message
        return "new"

    def hide(self, conversation_id: int, seq: int) -> None:
        self.hidden.setdefault(conversation_id, set()).add(seq)

    def shown(self, conversation_id: int | None) -> list[tuple[int, int]]:
        """(seq, message id) of what is on screen for the conversation, in seq order."""
        return sorted((seq, message["id"]) for seq, message in self.messages.get(conversation_id, {}).items())

    def hidden_seqs(self, conversation_id: int | None) -> list[int]:
        return sorted(self.hidden.get(conversation_id, ()))
