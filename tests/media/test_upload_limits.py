"""Oversized uploads are refused before the body is read: by Content-Length, or by the upload handler
part-way through. The request body is a stream that records how much of it was read."""

from __future__ import annotations

import io

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile, TemporaryUploadedFile
from django.core.files.uploadhandler import TemporaryFileUploadHandler
from django.core.handlers.wsgi import WSGIRequest
from django.http.multipartparser import MultiPartParser
from django.test import RequestFactory
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart

from media.services import attachment_upload
from media.uploads import SizeLimitUploadHandler, upload_receive
from tests.factories.media import MediaPolicyFactory

pytestmark = pytest.mark.django_db

LIMIT = 100 * 1024


class RecordingStream(io.RawIOBase):
    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        chunk = self._data.read(size)
        self.bytes_read += len(chunk)
        return chunk

    def readline(self, size: int = -1) -> bytes:
        line = self._data.readline(size)
        self.bytes_read += len(line)
        return line


def _multipart(name: str, data: bytes, content_type: str = "text/plain") -> bytes:
    return encode_multipart(BOUNDARY, {"file": SimpleUploadedFile(name, data, content_type=content_type)})


def _request(body: bytes, *, content_length: int | None = None) -> tuple[WSGIRequest, RecordingStream]:
    stream = RecordingStream(body)
    environ = RequestFactory()._base_environ(
        PATH_INFO="/api/v1/widget/uploads",
        REQUEST_METHOD="POST",
        CONTENT_TYPE=MULTIPART_CONTENT,
        CONTENT_LENGTH=str(len(body) if content_length is None else content_length),
        **{"wsgi.input": stream},
    )
    return WSGIRequest(environ), stream


@pytest.fixture(autouse=True)
def small_web_limit():
    MediaPolicyFactory(channel_kind="web", max_size=LIMIT)


def test_an_honest_content_length_over_the_limit_is_refused_without_reading_the_body():
    body = _multipart("big.txt", b"a" * (5 * 1024 * 1024))
    request, stream = _request(body)

    with pytest.raises(ValidationError) as caught:
        upload_receive(request=request, channel_kind="web")

    assert caught.value.code == "too_large"
    assert stream.bytes_read == 0


def test_the_handler_stops_reading_a_body_once_the_file_passes_the_limit():
    body = _multipart("big.txt", b"a" * (5 * 1024 * 1024))
    request, stream = _request(body)
    limit = SizeLimitUploadHandler(request, max_size=LIMIT)
    parser = MultiPartParser(request.META, request, [limit, TemporaryFileUploadHandler(request)], "utf-8")

    _, files = parser.parse()

    assert limit.exceeded
    assert "file" not in files
    # At most the limit plus one read-ahead chunk: nowhere near the 5 MB that was sent.
    assert stream.bytes_read < LIMIT + 2 * limit.chunk_size
    assert stream.bytes_read < len(body) / 10


def test_a_file_over_the_limit_within_the_content_length_slack_is_caught_by_the_handler():
    body = _multipart("edge.txt", b"a" * (LIMIT + 1))
    request, _ = _request(body)

    with pytest.raises(ValidationError) as caught:
        upload_receive(request=request, channel_kind="web")
    assert caught.value.code == "too_large"


def test_an_accepted_upload_streams_to_a_temporary_file_and_can_be_stored(local_storage):
    request, _ = _request(_multipart("small.txt", b"hello\n" * 100))

    uploaded = upload_receive(request=request, channel_kind="web")

    assert isinstance(uploaded, TemporaryUploadedFile)  # on disk, even when small
    attachment = attachment_upload(file=uploaded, channel_kind="web", uploader_kind="customer", uploader_id="7")
    assert attachment.size == 600 and attachment.content_type == "text/plain"


def test_only_the_first_file_of_a_request_is_taken():
    body = encode_multipart(
        BOUNDARY,
        {
            "file": SimpleUploadedFile("one.txt", b"one"),
            "other": SimpleUploadedFile("two.txt", b"two"),
        },
    )
    request, _ = _request(body)
    assert upload_receive(request=request, channel_kind="web").name == "one.txt"
    assert "other" not in request.FILES


def test_a_missing_file_field_is_a_clear_error():
    request, _ = _request(encode_multipart(BOUNDARY, {"text": "no file here"}))
    with pytest.raises(ValidationError) as caught:
        upload_receive(request=request, channel_kind="web")
    assert caught.value.code == "missing_file"


def test_handlers_cannot_be_installed_after_the_body_was_parsed():
    request, _ = _request(_multipart("small.txt", b"hi"))
    assert request.FILES
    with pytest.raises(RuntimeError):
        upload_receive(request=request, channel_kind="web")
