"""Admin actions that change state or call a platform need more than the view permission.

Django offers an action to everyone who may see the change list unless the action names the
permissions it needs. A view-only staff member (a supervisor, who sees inboxes but not their secrets)
must not be able to check a platform connection, point a Telegram webhook, re-send failed messages,
rebuild routing or merge contacts: each is refused and nothing is called or changed.
"""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.test import RequestFactory
from django.utils import timezone

from crm.models import Contact
from crm.roles import SUPERVISOR
from gateway.models import OutboxItem
from tests.factories import AgentProfileFactory, ContactFactory, InboxFactory, QueueFactory, UserFactory
from tests.gateway.conftest import Reply, stand_in  # noqa: F401 (a fixture used below)

pytestmark = pytest.mark.django_db

# Actions that only read and report: the view permission is enough for them.
READ_ONLY_ACTIONS = {"show_webhook_url", "count_past_retention"}

VIEW_ONLY = [
    "imsubsystem.view_inbox",
    "gateway.view_outboxitem",
    "routing.view_queue",
    "routing.view_agentprofile",
    "crm.view_contact",
    "crm.merge_contacts",  # the merge permission alone, without the right to change contacts
    "media.view_mediapolicy",
]


def _grant(user, names: list[str]) -> None:
    for name in names:
        app_label, codename = name.split(".", 1)
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))


@pytest.fixture
def viewer(db):
    user = UserFactory(username="view-only")
    user.groups.clear()
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    _grant(user, VIEW_ONLY)
    return user


def run_action(client, changelist: str, action: str, ids: list[int]):
    return client.post(changelist, {"action": action, "_selected_action": ids}, secure=True, follow=True)


def test_every_action_that_changes_or_calls_out_names_a_permission_beyond_view():
    """The class: any action added later without a permission fails here, not in production."""
    missing = []
    for model, model_admin in admin.site._registry.items():
        for func, name, _description in model_admin._get_base_actions():
            permissions = set(getattr(func, "allowed_permissions", ()) or ())
            if name in READ_ONLY_ACTIONS:
                continue
            if not permissions or permissions <= {"view"}:
                missing.append(f"{model._meta.label}.{name}")
    assert missing == []


def test_view_only_staff_is_offered_only_the_read_only_actions(viewer):
    request = RequestFactory().get("/admin/")
    request.user = viewer
    offered = set()
    for model_admin in admin.site._registry.values():
        if model_admin.has_view_permission(request):
            offered |= set(model_admin.get_actions(request))
    assert offered <= READ_ONLY_ACTIONS, offered


def test_view_only_staff_cannot_call_platforms_from_the_inbox_admin(client, viewer, stand_in):
    inbox = InboxFactory(
        kind="telegram",
        key="tg-view-only",
        config={"api_base_url": stand_in.url},
        credentials={"bot_token": "5:T", "secret_token": "sec"},
    )
    stand_in.default = Reply(200, {"ok": True, "result": {"id": 5, "username": "shop_bot"}})
    supervisor = UserFactory(username="sup-view", role=SUPERVISOR)
    for user in (viewer, supervisor):
        client.force_login(user)
        assert client.get("/admin/imsubsystem/inbox/", secure=True).status_code == 200
        for action in ("check_connection", "telegram_set_webhook"):
            response = run_action(client, "/admin/imsubsystem/inbox/", action, [inbox.pk])
            assert response.status_code == 200
            assert not any("shop_bot" in str(m) or "Webhook" in str(m) for m in response.context["messages"])
    assert stand_in.requests == [], "a view-only user reached the platform"

    # Someone who may change inboxes still can: the refusal above is the permission, not a broken action.
    editor = UserFactory(username="inbox-editor")
    editor.is_staff = True
    editor.save(update_fields=["is_staff"])
    _grant(editor, ["imsubsystem.view_inbox", "imsubsystem.change_inbox"])
    client.force_login(editor)
    response = run_action(client, "/admin/imsubsystem/inbox/", "check_connection", [inbox.pk])
    assert any("@shop_bot" in str(m) for m in response.context["messages"])
    assert len(stand_in.requests) == 1


def test_view_only_staff_cannot_resend_rebuild_or_merge(client, viewer, monkeypatch):
    item = OutboxItem.objects.create(
        message_id=991,
        conversation_id=1,
        inbox_id=1,
        recipient="42",
        text="hi",
        state="failed",
        attempts=8,
        next_attempt_at=timezone.now(),
        last_error="HTTP 500",
    )
    rebuilds = []
    monkeypatch.setattr("routing.services.routing_rebuild", lambda: rebuilds.append(1) or {})
    queue = QueueFactory()
    profile = AgentProfileFactory()
    older, newer = ContactFactory(name="Old"), ContactFactory(name="New")
    client.force_login(viewer)

    run_action(client, "/admin/gateway/outboxitem/", "retry_failed", [item.pk])
    run_action(client, "/admin/routing/queue/", "rebuild_routing", [queue.pk])
    run_action(client, "/admin/routing/agentprofile/", "rebuild_routing", [profile.pk])
    run_action(client, "/admin/crm/contact/", "merge_into_oldest", [older.pk, newer.pk])

    item.refresh_from_db()
    assert (item.state, item.attempts) == ("failed", 8)
    assert rebuilds == []
    assert set(Contact.objects.filter(pk__in=[older.pk, newer.pk]).values_list("name", flat=True)) == {"Old", "New"}
    assert Contact.objects.filter(pk=newer.pk).exists()
