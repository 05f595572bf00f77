"""Signals other apps listen to, so crm never imports them (dependency rule)."""

from django.dispatch import Signal

# Sent inside the merge transaction, before the source contact is deleted. Receivers move what they
# own (conversations, attachments...) from `source` to `target` and return {"label": count}; the counts
# land in the merge's audit record.
contact_merging = Signal()
