"""Serving stored files from local storage through short-lived signed URLs (S3 presigns its own)."""

from __future__ import annotations

from django.core import signing
from django.http import FileResponse, Http404, HttpRequest, HttpResponseForbidden
from django.views.decorators.http import require_safe

from media.models import Attachment, AttachmentStatus
from media.selectors import attachment_is_inline, viewer_may_open
from media.signing import THUMBNAIL, grant_read


def _forbidden(reason: str) -> HttpResponseForbidden:
    response = HttpResponseForbidden(reason, content_type="text/plain; charset=utf-8")
    response["Cache-Control"] = "no-store"
    return response


@require_safe
def attachment_file(request: HttpRequest, token: str) -> FileResponse | HttpResponseForbidden:
    try:
        grant = grant_read(token=token)
    except signing.SignatureExpired:
        return _forbidden("This link has expired; reload the conversation for a new one.")
    except signing.BadSignature:
        return _forbidden("This link is not valid.")
    # A staff viewer's link works only in that person's own session; customer and platform links are
    # capabilities that expire (widgets and platforms fetch them without our cookies).
    kind, _, viewer_id = grant.viewer.partition(":")
    if kind == "agent" and (not request.user.is_authenticated or str(request.user.pk) != viewer_id):
        return _forbidden("This link was issued to someone else.")
    attachment = Attachment.objects.filter(pk=grant.attachment_id, status=AttachmentStatus.READY).first()
    field = None
    if attachment is not None:
        field = attachment.thumbnail if grant.variant == THUMBNAIL else attachment.file
    if not field:
        raise Http404("No such file.")
    if attachment.conversation_id is not None and not viewer_may_open(
        viewer=grant.viewer,
        conversation_id=attachment.conversation_id,
        user_id=request.user.pk if request.user.is_authenticated else None,
    ):
        return _forbidden("This link is no longer valid for you; reload the conversation.")
    try:
        handle = field.storage.open(field.name, "rb")
    except FileNotFoundError as exc:
        raise Http404("No such file.") from exc
    if grant.variant == THUMBNAIL:
        inline, name = True, "thumbnail." + field.name.rsplit(".", 1)[-1]
        content_type = "image/png" if field.name.endswith(".png") else "image/jpeg"
    else:
        inline, name = attachment_is_inline(attachment=attachment), attachment.original_name
        content_type = attachment.content_type
    response = FileResponse(handle, as_attachment=not inline, filename=name, content_type=content_type)
    response["X-Content-Type-Options"] = "nosniff"
    # Even if a browser were talked into rendering the file, it runs nothing and reaches nothing.
    response["Content-Security-Policy"] = "default-src 'none'; img-src 'self'; sandbox"
    response["Cache-Control"] = "private, max-age=60"
    response["Referrer-Policy"] = "no-referrer"
    return response
