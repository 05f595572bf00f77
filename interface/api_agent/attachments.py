"""Files in the console: an agent's upload (named by id in a later message.send frame) and fresh signed
links for attachments whose links have expired."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_POST

from core.errors import DomainError
from core.http import json_body, validation_refusal
from imsubsystem import selectors
from imsubsystem.models import Conversation
from imsubsystem.ratelimit import rate_limit_hit
from interface.api_agent.base import console_endpoint, conversation_for, conversation_visible
from interface.api_fields import attachment_ids_field
from media.selectors import attachment_public_dict
from media.services import attachment_upload
from media.uploads import upload_receive


@csrf_protect
def _upload_store(request: HttpRequest, *, conversation: Conversation, upload) -> JsonResponse:
    """Runs after the body was received under the size limit, so the CSRF check may read request.POST."""
    attachment = attachment_upload(
        file=upload,
        channel_kind=conversation.inbox.kind,
        uploader_kind="agent",
        uploader_id=str(request.user.pk),
    )
    described = attachment_public_dict(
        attachment=attachment,
        viewer=f"agent:{request.user.pk}",
        may_view=lambda conversation_id: conversation_visible(request, conversation_id) is not None,
    )
    return JsonResponse(described, status=201)


# csrf_exempt only on the outside: the token is checked by _upload_store once the upload handlers are in
# place, because the middleware's check reads request.POST and would parse the whole body unlimited.
@csrf_exempt
@console_endpoint
@require_POST
def upload_create(request: HttpRequest) -> JsonResponse:
    """POST ?conversation_id=N, multipart `file` → 201 {id, name, content_type, size, url, thumbnail_url, ...}.

    The file belongs to this agent until a message.send frame names its id in that conversation."""
    try:
        conversation_id = int(request.GET.get("conversation_id", ""))
    except ValueError:
        raise DomainError("invalid", "Give the conversation_id in the query string.") from None
    conversation = conversation_for(request, conversation_id)
    try:
        upload = upload_receive(request=request, channel_kind=conversation.inbox.kind)
        return _upload_store(request, conversation=conversation, upload=upload)
    except ValidationError as exc:
        raise validation_refusal(exc) from None


@console_endpoint
@require_POST
def attachment_links(request: HttpRequest) -> JsonResponse:
    """POST {"attachment_ids": [...]} → {"attachments": [...]}: fresh signed links for attachments of
    conversations this user may see (a thread kept open past its links' lifetime); others are left out."""
    if not rate_limit_hit(key=f"agent-links:{request.user.pk}", limit=selectors.LINKS_PER_MINUTE, window_s=60):
        raise DomainError("rate_limited", "Too many requests for fresh links; wait a minute.", retry_after_s=60)
    ids = attachment_ids_field(json_body(request))
    return JsonResponse({"attachments": selectors.attachment_links_for_staff(user=request.user, attachment_ids=ids)})
