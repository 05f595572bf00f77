"""Receiving a multipart upload without taking in more than the channel allows.

Views that accept files call `upload_receive` BEFORE anything touches request.POST or request.FILES
(so the view must be csrf_exempt, or use csrf_protect on an inner function, as Django's docs on
upload handlers say). It refuses at once when Content-Length is over the limit, and otherwise stops
parsing the body as soon as the file passes it. Files stream to a temporary file on disk, never into
memory.

Before Django runs, the upload URLs' body is already capped at MEDIA_MAX_UPLOAD_SIZE (nginx per location,
and config/body_limits.py inside daphne); this module applies the channel's own policy and makes sure
Django neither parses nor stores anything past it.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler, SkipFile, StopUpload, TemporaryFileUploadHandler
from django.http import HttpRequest

from media.selectors import media_policy_get

# Multipart boundaries, part headers and a few small form fields around the file.
MULTIPART_OVERHEAD = 16 * 1024


class SizeLimitUploadHandler(FileUploadHandler):
    """First in the chain: counts each file's bytes and stops the upload once one passes max_size.

    Only one file per request is accepted; further files are skipped."""

    def __init__(self, request: HttpRequest | None = None, *, max_size: int) -> None:
        super().__init__(request)
        self.max_size = max_size
        self.received = 0
        self.files_seen = 0
        self.exceeded = False

    def new_file(self, *args, **kwargs) -> None:
        super().new_file(*args, **kwargs)
        self.files_seen += 1
        self.received = 0
        if self.files_seen > 1:
            raise SkipFile

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self.received += len(raw_data)
        if self.received > self.max_size:
            self.exceeded = True
            # connection_reset: do not read (and throw away) the rest of the body either.
            raise StopUpload(connection_reset=True)
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None


def _too_large(max_size: int) -> ValidationError:
    return ValidationError(f"The file is too large (the limit is {max_size} bytes).", code="too_large")


def upload_receive(*, request: HttpRequest, channel_kind: str, field_name: str = "file") -> UploadedFile:
    """The uploaded file in `field_name`, received under the channel's size limit.

    Raises ValidationError with code too_large (checked from Content-Length before reading, then while
    reading) or missing_file. Pass the result to media.services.attachment_upload."""
    if hasattr(request, "_files"):
        raise RuntimeError("upload_receive must run before request.POST or request.FILES is read.")
    policy = media_policy_get(channel_kind=channel_kind)
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError as exc:
        raise ValidationError("Bad Content-Length.", code="bad_request") from exc
    if declared > policy.max_size + MULTIPART_OVERHEAD:
        raise _too_large(policy.max_size)
    limit = SizeLimitUploadHandler(request, max_size=policy.max_size)
    request.upload_handlers = [limit, TemporaryFileUploadHandler(request)]
    files = request.FILES
    if limit.exceeded:
        raise _too_large(policy.max_size)
    upload = files.get(field_name)
    if upload is None:
        raise ValidationError(f"Send the file as the multipart field '{field_name}'.", code="missing_file")
    return upload
