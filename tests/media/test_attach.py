"""attachment_attach: only your own files, unsent or already in this conversation; all or nothing."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from media.models import Attachment
from media.services import MAX_ATTACHMENTS_PER_MESSAGE, attachment_attach
from tests.factories.media import AttachmentFactory

pytestmark = pytest.mark.django_db


def _attach(ids, conversation_id=5, uploader_id="c1", uploader_kind="customer"):
    return attachment_attach(
        attachment_ids=ids, conversation_id=conversation_id, uploader_kind=uploader_kind, uploader_id=uploader_id
    )


def test_unsent_files_of_the_uploader_join_the_conversation_in_the_order_given():
    first, second = AttachmentFactory(uploader_id="c1"), AttachmentFactory(uploader_id="c1")

    attached = _attach([second.pk, first.pk, second.pk])

    assert [a.pk for a in attached] == [second.pk, first.pk]
    assert set(Attachment.objects.values_list("conversation_id", flat=True)) == {5}


def test_attaching_again_to_the_same_conversation_is_fine():
    already = AttachmentFactory(uploader_id="c1", conversation_id=5)
    assert _attach([already.pk])[0].conversation_id == 5


@pytest.mark.parametrize(
    ("setup", "code"),
    [
        (lambda: AttachmentFactory(uploader_id="someone-else"), "unknown_attachment"),
        (lambda: AttachmentFactory(uploader_id="c1", uploader_kind="agent"), "unknown_attachment"),
        (lambda: AttachmentFactory(uploader_id="c1", conversation_id=6), "attached_elsewhere"),
        (lambda: AttachmentFactory(uploader_id="c1", status="failed", error="too large"), "attachment_failed"),
    ],
)
def test_refusals_name_the_attachment_and_change_nothing(setup, code):
    mine = AttachmentFactory(uploader_id="c1")
    bad = setup()

    with pytest.raises(ValidationError) as caught:
        _attach([mine.pk, bad.pk])

    assert caught.value.code == code
    assert str(bad.pk) in caught.value.messages[0]
    mine.refresh_from_db()
    assert mine.conversation_id is None


def test_missing_ids_and_junk_are_refused():
    with pytest.raises(ValidationError) as missing:
        _attach([999_999])
    assert missing.value.code == "unknown_attachment"
    with pytest.raises(ValidationError) as junk:
        _attach(["abc"])
    assert junk.value.code == "bad_attachment"


def test_too_many_attachments_in_one_message():
    ids = [AttachmentFactory(uploader_id="c1").pk for _ in range(MAX_ATTACHMENTS_PER_MESSAGE + 1)]
    with pytest.raises(ValidationError) as caught:
        _attach(ids)
    assert caught.value.code == "too_many_attachments"
    assert not Attachment.objects.filter(conversation_id__isnull=False).exists()
