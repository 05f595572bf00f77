"""The contact record's "Conversations" panel: the switch's answer to crm.hooks.contact_panels (subscribed
in apps.py; crm imports nothing here).

It lists only the conversations the viewer may see (selectors.conversation_visible_to), and offers a
"New conversation" form to those who may use the console (the switch's conversation_start_outbound,
through the console's API: docs/interface.md)."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from django.utils.translation import gettext

from crm.hooks import ContactPanelsWanted
from imsubsystem import selectors


def contact_conversations(event: ContactPanelsWanted) -> dict[str, Any] | None:
    """The panel for this user, or None when they may not view conversations."""
    user = selectors.user_get(user_id=event.user_id)
    if user is None or not user.has_perm("imsubsystem.view_conversation"):
        return None
    may_start = user.has_perm("crm.view_contact") and (
        user.has_perm("imsubsystem.handle_conversations") or user.has_perm("imsubsystem.supervise")
    )
    return {
        "title": gettext("Conversations"),
        "template": "imsubsystem/_contact_conversations.html",
        "conversations": list(selectors.conversations_for_contact(contact_id=event.contact_id, user=user)),
        # "New conversation" (static/crm/outbound.js) asks the console's API which inboxes it can use.
        "start_url": reverse("interface:agent_api:contact_conversations", args=[event.contact_id]) if may_start else "",
    }
