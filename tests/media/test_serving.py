"""Short-lived URLs: signed local-file links and S3 presigned links (against moto's S3 server)."""

from __future__ import annotations

import time
from unittest import mock

import httpx
import pytest
from django.core import signing
from django.core.exceptions import PermissionDenied

from media.hooks import conversation_access
from media.selectors import attachment_public_dict
from media.services import attachment_delete, attachment_upload
from tests.factories import UserFactory
from tests.factories.media import PDF_BYTES, image_bytes, upload
from tests.media.conftest import BUCKET

pytestmark = pytest.mark.django_db

CONVERSATION = 41


@pytest.fixture(autouse=True)
def _media_on_its_own():
    """These tests use conversation ids with no conversation behind them: the media app alone, without
    the switch's check at serving time (tests/security/test_visibility.py covers that)."""
    with conversation_access.replaced():
        yield


def _in_conversation(conversation_id: int) -> bool:
    return conversation_id == CONVERSATION


def _nowhere(conversation_id: int) -> bool:
    return False


def _pdf(conversation_id=CONVERSATION, uploader_id="c1"):
    return attachment_upload(
        file=upload("Contract ü.pdf", PDF_BYTES, "application/pdf"),
        channel_kind="web",
        conversation_id=conversation_id,
        uploader_kind="customer",
        uploader_id=uploader_id,
    )


def test_public_dict_has_the_contract_fields_and_a_working_link(client):
    attachment = _pdf()
    public = attachment_public_dict(attachment=attachment, viewer="customer:c1", may_view=_in_conversation)

    assert set(public) == {
        "id", "name", "content_type", "size", "url", "thumbnail_url", "width", "height", "status", "error",
        "expires_at",
    }  # fmt: skip
    assert public["name"] == "Contract ü.pdf" and public["status"] == "ready" and public["error"] is None
    assert str(attachment.pk) not in public["url"].split("/files/")[0]

    response = client.get(public["url"])
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PDF_BYTES
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("attachment;")
    assert "filename*=utf-8''Contract%20%C3%BC.pdf" in response["Content-Disposition"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response["Content-Security-Policy"]


def test_plain_images_are_shown_inline_with_a_thumbnail(client):
    attachment = attachment_upload(
        file=upload("cat.png", image_bytes("PNG", (600, 400)), "image/png"),
        channel_kind="web",
        conversation_id=CONVERSATION,
        uploader_kind="customer",
        uploader_id="c1",
    )
    public = attachment_public_dict(attachment=attachment, viewer="customer:c1", may_view=_in_conversation)
    assert (public["width"], public["height"]) == (600, 400)

    original = client.get(public["url"])
    assert original["Content-Disposition"].startswith("inline;")
    assert original["Content-Type"] == "image/png"
    assert original["X-Content-Type-Options"] == "nosniff"
    thumbnail = client.get(public["thumbnail_url"])
    assert thumbnail.status_code == 200 and thumbnail["Content-Type"] == "image/jpeg"


def test_the_viewer_must_be_allowed_when_the_link_is_issued():
    attachment = _pdf()
    with pytest.raises(PermissionDenied):
        attachment_public_dict(attachment=attachment, viewer="customer:c2", may_view=_nowhere)


def test_before_it_is_sent_only_the_uploader_gets_a_link():
    attachment = _pdf(conversation_id=None)
    assert attachment_public_dict(attachment=attachment, viewer="customer:c1", may_view=_nowhere)["url"]
    with pytest.raises(PermissionDenied):
        attachment_public_dict(attachment=attachment, viewer="customer:c2", may_view=lambda _: True)


def test_a_staff_link_works_only_in_that_persons_session(client):
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    attachment = _pdf()
    url = attachment_public_dict(attachment=attachment, viewer=f"agent:{alice.pk}", may_view=_in_conversation)["url"]

    assert client.get(url).status_code == 403  # nobody logged in
    client.force_login(bob)
    refused = client.get(url)
    assert refused.status_code == 403 and b"someone else" in refused.content
    client.force_login(alice)
    assert client.get(url).status_code == 200


def test_a_link_cannot_be_rewritten_for_another_attachment_or_viewer(client):
    mine, theirs = _pdf(), _pdf(uploader_id="c9")
    url = attachment_public_dict(attachment=mine, viewer="customer:c1", may_view=_in_conversation)["url"]
    token = url.rsplit("/", 1)[-1]
    payload = token.split(":", 1)[0]
    forged_payload = signing.b64_encode(
        signing.JSONSerializer().dumps({"a": theirs.pk, "v": "o", "s": "customer:c1"})
    ).decode()

    assert client.get(url.replace(payload, forged_payload)).status_code == 403
    assert client.get(url[:-2] + ("AA" if not url.endswith("AA") else "BB")).status_code == 403
    assert client.get("/media/v1/files/not-a-token").status_code == 403


def test_an_expired_link_is_refused(client, settings):
    settings.MEDIA_URL_TTL = 60
    attachment = _pdf()
    with mock.patch("django.core.signing.time.time", return_value=time.time() - 61):
        url = attachment_public_dict(attachment=attachment, viewer="customer:c1", may_view=_in_conversation)["url"]
    response = client.get(url)
    assert response.status_code == 403 and b"expired" in response.content


def test_deleted_attachments_are_gone_with_their_files(client, local_storage, django_capture_on_commit_callbacks):
    attachment = _pdf()
    url = attachment_public_dict(attachment=attachment, viewer="customer:c1", may_view=_in_conversation)["url"]
    path = local_storage / attachment.file.name

    with django_capture_on_commit_callbacks(execute=True):
        attachment_delete(attachment=attachment)

    assert not path.exists()
    assert client.get(url).status_code == 404


def test_pending_and_failed_attachments_have_no_link():
    from media.services import attachment_create_pending, attachment_mark_failed

    pending = attachment_create_pending(channel_kind="whatsapp", conversation_id=CONVERSATION, uploader_id="wa")
    shown = attachment_public_dict(attachment=pending, viewer="customer:c1", may_view=_in_conversation)
    assert (shown["status"], shown["url"], shown["thumbnail_url"]) == ("pending", None, None)

    attachment_mark_failed(attachment=pending, reason="The platform answered HTTP 404 Not Found.")
    shown = attachment_public_dict(attachment=pending, viewer="customer:c1", may_view=_in_conversation)
    assert shown["status"] == "failed" and "404" in shown["error"]


def test_bad_viewer_scopes_are_a_programming_error():
    with pytest.raises(ValueError):
        attachment_public_dict(attachment=_pdf(), viewer="c1", may_view=_in_conversation)


class TestS3:
    """The same flows against a real S3 protocol server: upload, presigned fetch over HTTP, delete."""

    def test_upload_presigned_fetch_and_delete(self, s3_storage, django_capture_on_commit_callbacks):
        photo = image_bytes("JPEG", (500, 300), exif_gps=True)
        attachment = attachment_upload(
            file=upload("beach.jpg", photo, "image/jpeg"),
            channel_kind="web",
            conversation_id=CONVERSATION,
            uploader_kind="customer",
            uploader_id="c1",
        )
        stored = s3_storage.head_object(Bucket=BUCKET, Key=attachment.file.name)
        assert stored["ContentType"] == "image/jpeg"
        assert stored["ContentLength"] == attachment.size

        public = attachment_public_dict(attachment=attachment, viewer="customer:c1", may_view=_in_conversation)
        assert "X-Amz-Signature=" in public["url"] and "X-Amz-Expires=300" in public["url"]
        response = httpx.get(public["url"])
        assert response.status_code == 200
        assert response.headers["content-type"] == "image/jpeg"
        assert response.headers["content-disposition"].startswith("inline")
        assert b"SpyCam" not in response.content and response.content[:3] == b"\xff\xd8\xff"
        thumbnail = httpx.get(public["thumbnail_url"])
        assert thumbnail.status_code == 200 and thumbnail.content[:3] == b"\xff\xd8\xff"

        keys = [attachment.file.name, attachment.thumbnail.name]
        with django_capture_on_commit_callbacks(execute=True):
            attachment_delete(attachment=attachment)
        listed = s3_storage.list_objects_v2(Bucket=BUCKET).get("Contents", [])
        assert not {obj["Key"] for obj in listed} & set(keys)

    def test_documents_are_downloads_on_s3_too(self, s3_storage):
        attachment = _pdf()
        public = attachment_public_dict(attachment=attachment, viewer="customer:c1", may_view=_in_conversation)
        response = httpx.get(public["url"])
        assert response.status_code == 200 and response.content == PDF_BYTES
        assert response.headers["content-disposition"].startswith("attachment")
        assert response.headers["content-type"] == "application/pdf"
