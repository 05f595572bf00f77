"""Receivers of crm's signals, connected in `apps.py`."""

from __future__ import annotations

from imsubsystem.services import conversations_move_contact


def on_contact_merging(*, source, target, **kwargs) -> dict[str, int]:
    """crm.signals.contact_merging receiver: the source contact's conversations follow it into the target."""
    return conversations_move_contact(source_id=source.pk, target_id=target.pk)
