"""Subscribers to crm's hooks (crm/hooks.py), subscribed in `apps.py`."""

from __future__ import annotations

from crm.hooks import ContactMerging
from imsubsystem.services import conversations_move_contact


def on_contact_merging(event: ContactMerging) -> dict[str, int]:
    """crm.hooks.contact_merging: the source contact's conversations follow it into the target."""
    return conversations_move_contact(source_id=event.source_id, target_id=event.target_id)
