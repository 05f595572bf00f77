"""Retention (the beat task and its dry run in admin) and the admin pages."""

from __future__ import annotations

import importlib
from datetime import timedelta

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from media import tasks
from media.models import Attachment, MediaPolicy
from media.selectors import attachments_past_retention, media_policy_expired_count
from tests.factories.media import AttachmentFactory, MediaPolicyFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def migrated_policies(db):
    """The rows media's data migration makes, made again by its own function: a transactional test that
    ran earlier on the same worker flushed them (Django's flush empties what migrations wrote)."""
    from django.apps import apps

    create_default_policies = importlib.import_module("media.migrations.0002_default_policies").create_default_policies
    create_default_policies(apps, None)


def _aged(days: float, **kwargs) -> Attachment:
    return AttachmentFactory(created_at=timezone.now() - timedelta(days=days), conversation_id=1, **kwargs)


def test_the_purge_is_scheduled_beside_the_other_beat_entries():
    entry = settings.CELERY_BEAT_SCHEDULE["media-retention-purge"]
    assert entry["task"] == "media.tasks.purge_expired_attachments"
    assert len(settings.CELERY_BEAT_SCHEDULE) > 1


def test_retention_deletes_per_channel_and_never_sent_uploads(local_storage, django_capture_on_commit_callbacks):
    MediaPolicyFactory(channel_kind="web", retention_days=30)
    MediaPolicyFactory(channel_kind="telegram", retention_days=0)  # keep forever
    old_web, fresh_web = _aged(31, channel_kind="web"), _aged(29, channel_kind="web")
    old_telegram = _aged(400, channel_kind="telegram")
    orphan = AttachmentFactory(created_at=timezone.now() - timedelta(hours=settings.MEDIA_ORPHAN_HOURS + 1))
    old_file = local_storage / old_web.file.name
    assert old_file.exists()

    assert set(attachments_past_retention()) == {old_web, orphan}
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.purge_expired_attachments.delay().get() == 2

    assert set(Attachment.objects.all()) == {fresh_web, old_telegram}
    assert not old_file.exists()


def test_the_dry_run_count_shows_in_admin_and_deletes_nothing(admin_client_role):
    policy = MediaPolicyFactory(channel_kind="web", retention_days=30)
    _aged(31, channel_kind="web")
    _aged(45, channel_kind="web")
    _aged(1, channel_kind="web")
    assert media_policy_expired_count(policy=policy) == 2

    changelist = admin_client_role.get(reverse("admin:media_mediapolicy_changelist"))
    assert changelist.status_code == 200
    assert b"retention would delete now" in changelist.content

    action = admin_client_role.post(
        reverse("admin:media_mediapolicy_changelist"),
        {"action": "count_past_retention", "_selected_action": [policy.pk]},
        follow=True,
    )
    assert b"web: 2" in action.content
    assert Attachment.objects.count() == 3


def test_policies_are_edited_in_admin_with_checkboxes_and_limits(admin_client_role, migrated_policies):
    policy = MediaPolicy.objects.get(channel_kind="sms")
    url = reverse("admin:media_mediapolicy_change", args=[policy.pk])
    page = admin_client_role.get(url)
    assert page.status_code == 200 and b'type="checkbox"' in page.content

    response = admin_client_role.post(
        url,
        {"channel_kind": "sms", "max_size": 2048, "allowed_families": ["image", "pdf"], "retention_days": 90},
    )
    assert response.status_code == 302
    policy.refresh_from_db()
    assert (policy.max_size, policy.allowed_families, policy.retention_days) == (2048, ["image", "pdf"], 90)

    too_big = admin_client_role.post(
        url,
        {"channel_kind": "sms", "max_size": settings.MEDIA_MAX_UPLOAD_SIZE + 1, "retention_days": 90},
    )
    assert too_big.status_code == 200 and b"MEDIA_MAX_UPLOAD_SIZE" in too_big.content


def test_every_channel_kind_has_a_policy_after_migrating(migrated_policies):
    from crm.models import ChannelKind

    assert set(MediaPolicy.objects.values_list("channel_kind", flat=True)) == set(ChannelKind.values)


def test_attachments_are_read_only_in_admin_and_filterable(admin_client_role, supervisor_client):
    attachment = AttachmentFactory(original_name="<script>alert(1)</script>.txt")
    changelist = reverse("admin:media_attachment_changelist")

    page = admin_client_role.get(changelist, {"status__exact": "ready"})
    assert page.status_code == 200
    assert b"<script>alert(1)</script>" not in page.content
    assert admin_client_role.get(reverse("admin:media_attachment_add")).status_code == 403
    detail = admin_client_role.get(reverse("admin:media_attachment_change", args=[attachment.pk]))
    assert detail.status_code == 200 and b'name="original_name"' not in detail.content
    assert attachment.file.name.encode() not in detail.content

    assert supervisor_client.get(changelist).status_code == 200
