"""Labels on conversations (docs/imsubsystem.md, "Labels"): the console's picker and the API set a
conversation's whole label set through `conversation_labels_set`.

Who may label: whoever the one visibility rule lets see the conversation (selectors/visibility.py), that
is the agent holding it, the supervisors of its queue's teams and admins; anyone else gets `not_found`, as
for a conversation that does not exist. Only active labels can be added; an inactive one already on the
conversation may stay. A change emits the `conversation_labels_changed` hook in the transaction and, after
commit, a `conversation.labels` frame to the staff watching the conversation (never to the customer).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import transaction
from django.utils import timezone

from imsubsystem import selectors
from imsubsystem.events import group_conversation
from imsubsystem.hooks import ConversationLabelsChanged, conversation_labels_changed
from imsubsystem.models import Label
from imsubsystem.services.publish import event_publish_on_commit
from imsubsystem.services.state import SwitchError, lock

MAX_LABELS = 20


def label_refs(labels) -> list[dict[str, Any]]:
    return [{"id": label.pk, "name": label.name, "colour": label.colour} for label in labels]


def _ids_check(label_ids: Any) -> list[int]:
    if not isinstance(label_ids, list | tuple) or not all(
        isinstance(i, int) and not isinstance(i, bool) and i > 0 for i in label_ids
    ):
        raise SwitchError("invalid", "label_ids must be a list of label ids (whole numbers).")
    ids = sorted(set(label_ids))
    if len(ids) > MAX_LABELS:
        raise SwitchError("invalid", f"At most {MAX_LABELS} labels on a conversation.")
    return ids


def conversation_labels_set(*, conversation_id: int, label_ids: Sequence[int], by_user_id: int) -> list[dict[str, Any]]:
    """Set the conversation's labels to exactly `label_ids`; returns them as [{"id", "name", "colour"}].

    Refused, changing nothing: `not_found` when the user may not see the conversation; `invalid` for a
    malformed list, an unknown label id, or an inactive label not already on the conversation."""
    ids = _ids_check(label_ids)
    user = selectors.user_get(user_id=by_user_id)
    with transaction.atomic():
        conversation = lock(conversation_id)
        if user is None or not selectors.conversation_visible_to(user=user, conversation=conversation, acting=True):
            raise SwitchError("not_found", f"No conversation {conversation_id}.")
        current = set(conversation.labels.values_list("pk", flat=True))
        labels = {label.pk: label for label in Label.objects.filter(pk__in=ids)}
        unknown = [i for i in ids if i not in labels or (not labels[i].is_active and i not in current)]
        if unknown:
            raise SwitchError("invalid", f"Unknown or inactive label id(s): {', '.join(map(str, unknown))}.")
        wanted = set(ids)
        refs = label_refs(sorted(labels.values(), key=lambda label: (label.name, label.pk)))
        if wanted == current:
            return refs
        added, removed = sorted(wanted - current), sorted(current - wanted)
        if removed:
            conversation.labels.remove(*removed)
        if added:
            conversation.labels.add(*added)
        conversation_labels_changed.emit(
            ConversationLabelsChanged(
                conversation_id=conversation.pk,
                inbox_id=conversation.inbox_id,
                contact_id=conversation.contact_id,
                queue_id=conversation.queue_id,
                assignee_id=conversation.assignee_id,
                labels=tuple(refs),
                added=tuple(added),
                removed=tuple(removed),
                by_user_id=by_user_id,
                changed_at=timezone.now(),
            )
        )
        event_publish_on_commit(
            group=group_conversation(conversation.pk),
            frame={"type": "conversation.labels", "conversation_id": conversation.pk, "labels": refs},
            hide_from_customer=True,
        )
    return refs
