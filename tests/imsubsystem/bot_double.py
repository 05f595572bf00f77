"""A bot double on the switch's bot hooks: records what the switch hands to bots, and says a bot
answers first in every inbox."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

from imsubsystem.hooks import MessageCommitted, bot_wanted, closed_reply_taken, message_committed

received: list[dict] = []


def handler(event: MessageCommitted) -> None:
    received.append({"message": event.message, "conversation": event.conversation})


@contextmanager
def installed() -> Iterator[list[dict]]:
    """The double instead of the bots app for the length of a block."""
    received.clear()
    with ExitStack() as stack:
        stack.enter_context(message_committed.replaced(handler))
        stack.enter_context(bot_wanted.replaced(lambda event: True))
        stack.enter_context(closed_reply_taken.replaced())
        yield received


@contextmanager
def no_bots() -> Iterator[None]:
    """The switch on its own: nobody answers the bot hooks."""
    with ExitStack() as stack:
        for hook in (message_committed, bot_wanted, closed_reply_taken):
            stack.enter_context(hook.replaced())
        yield
