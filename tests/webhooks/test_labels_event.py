"""`conversation.labels_changed`: a subscriber hears a conversation's new labels, what was added and
removed, and who changed them; the close event names the close reason picked."""

from __future__ import annotations

import pytest

from imsubsystem import services
from imsubsystem.models import CloseReason, Label
from tests.factories import ContactFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_labels_changed_and_close_reason_reach_a_subscriber(
    receiver, subscribe, inbox, django_capture_on_commit_callbacks
):
    subscribe(["conversation.labels_changed", "conversation.closed"])
    admin = UserFactory(username="hook-admin", role="Admin")
    vip = Label.objects.create(name="VIP <b>", colour="#aa0000")
    CloseReason.objects.create(code="solved", name="Solved")
    with django_capture_on_commit_callbacks(execute=True):
        message, _ = services.customer_message_send(inbox_id=inbox.pk, contact_id=ContactFactory().pk, text="hi")
    conversation_id = message["conversation_id"]
    with django_capture_on_commit_callbacks(execute=True):
        services.conversation_labels_set(conversation_id=conversation_id, label_ids=[vip.pk], by_user_id=admin.pk)
    with django_capture_on_commit_callbacks(execute=True):
        services.conversation_close(conversation_id=conversation_id, by_user_id=admin.pk, reason_code="solved")
    bodies = {r.headers["X-Switchboard-Event"]: r.json()["data"] for r in receiver.requests}
    changed = bodies["conversation.labels_changed"]
    assert changed["labels"] == [{"id": vip.pk, "name": "VIP <b>", "colour": "#aa0000"}]
    assert (changed["added"], changed["removed"], changed["changed_by"]["id"]) == ([vip.pk], [], admin.pk)
    assert changed["conversation"]["id"] == conversation_id
    assert bodies["conversation.closed"]["close_reason"] == "solved"
