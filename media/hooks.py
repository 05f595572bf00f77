"""The media app's hook events (core/hooks.py); apps above subscribe in their AppConfig.ready.

- `conversation_access`: asked when a file of a conversation is served: may this link's viewer (with the
  request's user, if any) still see that conversation? Rights may have changed since the link was
  issued. The switch answers with its one visibility rule; without an answer, the right checked when the
  link was issued stands.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.hooks import Hook, HookEvent


@dataclass(frozen=True)
class ConversationAccess(HookEvent):
    viewer: str  # "agent:<user id>", "customer:<contact id>", "platform:<inbox id>", "bot:..."
    conversation_id: int
    user_id: int | None  # the request's logged-in user, if any


conversation_access: Hook[ConversationAccess] = Hook("media.conversation_access", ConversationAccess)
