"""What crm lets other apps do, without importing them (core/hooks.py, docs/architecture.md).

The apps above subscribe in their `AppConfig.ready` (the switch: imsubsystem/apps.py).

- `contact_merging`: emitted inside the merge transaction (crm.services.contact_merge), before the source
  contact is deleted. Subscribers move what they own (conversations, attachments...) from the source to
  the target and answer {"label": count}; the counts land in the merge's audit record. An error rolls
  the whole merge back (the hook is not robust).
- `contact_panels`: asked when the contact record is drawn (crm.views.contact_detail). Each subscriber
  answers one panel, {"title", "template", ...what its template reads}, or None to show nothing to this
  user; the page draws them in subscription order.
- `contact_created`, `contact_updated`: inside the transaction that creates a contact (crm.services.
  contact_create, also under identity_get_or_create) or changes its editable fields (contact_update),
  after the row is saved; also when Django admin adds or changes a contact (contact_saved_elsewhere) and,
  `contact_updated`, for the surviving contact of a merge (contact_merge: `fields` what the merge changed,
  possibly none when only identities and history moved). A subscriber's rows commit or roll back with
  the contact; it must not call out. The outgoing webhooks.
- `contact_message_search`: asked by the contact search (crm.selectors.contact_search_q) for a user and a
  query. The switch answers the ids of the contacts with a message matching the query in a conversation
  that user may see (docs/crm.md, "Search"); no answer: the search covers the contact's own fields only.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.hooks import Hook, HookEvent


@dataclass(frozen=True)
class ContactMerging(HookEvent):
    """Contact `source_id` is being folded into `target_id` (both rows locked, the source not yet deleted)."""

    source_id: int
    target_id: int


@dataclass(frozen=True)
class ContactPanelsWanted(HookEvent):
    """User `user_id` opens the record of contact `contact_id`; subscribers decide what that user may see."""

    contact_id: int
    user_id: int


@dataclass(frozen=True)
class ContactSaved(HookEvent):
    """Contact `contact_id` was created, or its `fields` (names of crm.services.EDITABLE_FIELDS) were
    written; the row holds the new values."""

    contact_id: int
    fields: tuple[str, ...] = ()


@dataclass(frozen=True)
class ContactMessagesWanted(HookEvent):
    """Which contacts did `user_id` see write (or get) a message with every word of `query`?"""

    query: str
    user_id: int


contact_merging: Hook[ContactMerging] = Hook("crm.contact_merging", ContactMerging)
contact_panels: Hook[ContactPanelsWanted] = Hook("crm.contact_panels", ContactPanelsWanted)
contact_created: Hook[ContactSaved] = Hook("crm.contact_created", ContactSaved)
contact_updated: Hook[ContactSaved] = Hook("crm.contact_updated", ContactSaved)
contact_message_search: Hook[ContactMessagesWanted] = Hook("crm.contact_message_search", ContactMessagesWanted)
