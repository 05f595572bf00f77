"""The contact record's "Conversations" panel: the switch's answer to crm.hooks.contact_panels (subscribed
in apps.py; crm imports nothing here).

It lists only the conversations the viewer may see (selectors.conversation_visible_to)."""

from __future__ import annotations

from typing import Any

from crm.hooks import ContactPanelsWanted
from imsubsystem import selectors


def contact_conversations(event: ContactPanelsWanted) -> dict[str, Any] | None:
    """The panel for this user, or None when they may not view conversations."""
    user = selectors.user_get(user_id=event.user_id)
    if user is None or not user.has_perm("imsubsystem.view_conversation"):
        return None
    return {
        "title": "Conversations",
        "template": "imsubsystem/_contact_conversations.html",
        "conversations": list(selectors.conversations_for_contact(contact_id=event.contact_id, user=user)),
    }
