"""The contact record's "Conversations" panel (settings.CRM_CONTACT_PANELS; crm imports nothing here).

It lists only the conversations the viewer may see (selectors.conversation_visible_to)."""

from __future__ import annotations

from typing import Any

from imsubsystem import selectors


def contact_conversations(*, request, contact) -> dict[str, Any] | None:
    if not request.user.has_perm("imsubsystem.view_conversation"):
        return None
    return {
        "title": "Conversations",
        "template": "imsubsystem/_contact_conversations.html",
        "conversations": list(selectors.conversations_for_contact(contact_id=contact.pk, user=request.user)),
    }
