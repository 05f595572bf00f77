"""Subscribers to crm's hooks (crm/hooks.py), subscribed in `apps.py`."""

from __future__ import annotations

from django.contrib.auth import get_user_model

from crm.hooks import ContactMerging, ContactMessagesWanted
from imsubsystem.selectors import contact_ids_by_message_text
from imsubsystem.services import conversations_move_contact


def on_contact_merging(event: ContactMerging) -> dict[str, int]:
    """crm.hooks.contact_merging: the source contact's conversations follow it into the target."""
    return conversations_move_contact(source_id=event.source_id, target_id=event.target_id)


def on_contact_message_search(event: ContactMessagesWanted) -> list[int]:
    """crm.hooks.contact_message_search: the contacts with a matching message in a conversation the user
    may see (imsubsystem/selectors/search.py)."""
    user = get_user_model().objects.filter(pk=event.user_id).first()
    if user is None:
        return []
    return contact_ids_by_message_text(user=user, query=event.query)
