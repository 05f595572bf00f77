"""The switch's answer to the media app's `conversation_access` hook (media/hooks.py), subscribed in
ImsubsystemConfig.ready: serving a file asks the one visibility rule again."""

from __future__ import annotations

from django.contrib.auth import get_user_model

from imsubsystem.selectors import viewer_may_see_conversation
from media.hooks import ConversationAccess


def on_conversation_access(event: ConversationAccess) -> bool:
    user = get_user_model().objects.filter(pk=event.user_id).first() if event.user_id is not None else None
    return viewer_may_see_conversation(viewer=event.viewer, conversation_id=event.conversation_id, user=user)
