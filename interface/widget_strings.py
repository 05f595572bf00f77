"""The customer widget's words, in the customer's language (docs/interface.md, "The widget's language").

The widget runs on other sites' pages, so it loads no catalog of its own: the answer to its session
request carries these strings in the language chosen for the customer (`ui_language` of
imsubsystem/selectors/language.py), and the widget keeps them with its session. `static/widget/widget.js`
holds the same English words (STRINGS and ERROR_WORDS) for the moments before that answer, or when the
server cannot be reached; a test keeps the two lists equal.

Each word has the catalog context "widget", so it never shares an entry with a staff page's word spelt
the same ("Send", "Read"). Placeholders are `%(name)s`, as Django's JavaScript `interpolate` writes
them; the widget fills them with textContent only.
"""

from __future__ import annotations

from django.utils import translation
from django.utils.translation import pgettext_lazy

STRINGS = {
    "title": pgettext_lazy("widget", "Chat with us"),
    "subtitle": pgettext_lazy("widget", "We usually answer within a few minutes"),
    "open_chat": pgettext_lazy("widget", "Open chat"),
    "close_chat": pgettext_lazy("widget", "Close chat"),
    "empty": pgettext_lazy("widget", "Ask us anything, we are here to help."),
    "attach": pgettext_lazy("widget", "Attach a file"),
    "remove_attachment": pgettext_lazy("widget", "Remove attachment"),
    "placeholder": pgettext_lazy("widget", "Write a message…"),
    "message": pgettext_lazy("widget", "Message"),
    "send": pgettext_lazy("widget", "Send"),
    "offline": pgettext_lazy("widget", "You are offline. We will reconnect."),
    "reconnecting": pgettext_lazy("widget", "Reconnecting…"),
    "unreachable": pgettext_lazy("widget", "Could not reach the chat service. Retrying…"),
    "image": pgettext_lazy("widget", "image"),
    "attachment": pgettext_lazy("widget", "attachment"),
    "sending": pgettext_lazy("widget", "Sending…"),
    "retrying": pgettext_lazy("widget", "Not sent, retrying"),
    "read": pgettext_lazy("widget", "Read"),
    "not_sent": pgettext_lazy("widget", "Not sent: %(reason)s"),
    "uploading": pgettext_lazy("widget", "Uploading %(name)s…"),
    "upload_failed": pgettext_lazy("widget", "Upload failed: %(reason)s"),
    "session_ended": pgettext_lazy("widget", "The chat session ended. Please attach the file again."),
    "queue_position": pgettext_lazy("widget", "You are number %(position)s in the queue."),
    "queue_position_eta": pgettext_lazy("widget", "You are number %(position)s in the queue · about %(minutes)s min."),
    "waiting": pgettext_lazy("widget", "Waiting for the next available agent…"),
    "chatting_with": pgettext_lazy("widget", "You are chatting with %(name)s."),
    "an_agent": pgettext_lazy("widget", "an agent"),
    "closed": pgettext_lazy("widget", "This conversation was closed. Write again any time."),
    "typing": pgettext_lazy("widget", "%(name)s is typing…"),
    "agent": pgettext_lazy("widget", "Agent"),
    "not_available": pgettext_lazy("widget", "Chat is not available on this site."),
    "error": pgettext_lazy("widget", "Something went wrong. Please try again."),
    # The bot's name above its messages (imsubsystem.selectors.BOT_NAME for staff).
    "bot_name": pgettext_lazy("widget", "Assistant"),
}

# Every error code of docs/protocol.md, and the media checks' codes of an upload, in words for the customer.
_RETRY = pgettext_lazy("widget", "Please try again.")
_RELOAD = pgettext_lazy("widget", "Please reload the page and try again.")
_NOT_SENT = pgettext_lazy("widget", "Your message could not be sent. Reload the page and try again.")
_NOT_ALLOWED = pgettext_lazy("widget", "That is not allowed here.")
_RECONNECTING = pgettext_lazy("widget", "Reconnecting to the chat…")
_CANNOT_SEND = pgettext_lazy("widget", "This kind of file cannot be sent.")
ERROR_WORDS = {
    "bad_json": _NOT_SENT,
    "unknown_type": _NOT_SENT,
    "invalid": _NOT_SENT,
    "too_long": pgettext_lazy("widget", "Your message is too long. Please shorten it."),
    "empty": pgettext_lazy("widget", "Write a message or attach a file first."),
    "rate_limited": pgettext_lazy("widget", "You are sending very fast. Your message will go in a moment."),
    "auth_required": _RECONNECTING,
    "auth_failed": _RECONNECTING,
    "origin_not_allowed": pgettext_lazy("widget", "Chat is not available on this site."),
    "forbidden": _NOT_ALLOWED,
    "not_found": pgettext_lazy("widget", "This conversation is no longer available."),
    "conversation_closed": pgettext_lazy("widget", "This conversation was closed. Write again to start a new one."),
    "illegal_transition": pgettext_lazy("widget", "This conversation cannot do that right now."),
    "unknown_attachment": pgettext_lazy("widget", "A file could not be attached. Please upload it again."),
    "too_large": pgettext_lazy("widget", "The file is too large to send."),
    "offer_gone": _RETRY,
    "not_yours": _NOT_ALLOWED,
    "over_capacity": pgettext_lazy("widget", "Please try again in a moment."),
    "not_waiting": _RETRY,
    "unknown_queue": _RETRY,
    "unknown_agent": _RETRY,
    "unknown_work": _RETRY,
    "bad_request": _RETRY,
    "not_retryable": pgettext_lazy("widget", "That message cannot be sent again."),
    "internal": pgettext_lazy("widget", "Something went wrong on our side. Please try again."),
    "no_identity": _RETRY,
    "template_required": _RETRY,
    "conversation_open": _RETRY,
    "identity_invalid": pgettext_lazy("widget", "We could not confirm your account. Please sign in again."),
    "identity_required": pgettext_lazy("widget", "Please sign in to chat with us."),
    "method_not_allowed": _RELOAD,
    "not_acceptable": _RELOAD,
    "unsupported_media_type": _RELOAD,
    # An upload the media checks refused (docs/media.md).
    "executable": pgettext_lazy("widget", "Programs and scripts cannot be sent."),
    "markup": _CANNOT_SEND,
    "type_mismatch": pgettext_lazy("widget", "The file's content does not match its name."),
    "type_not_allowed": _CANNOT_SEND,
    "bad_image": pgettext_lazy("widget", "The image could not be read."),
    "missing_file": pgettext_lazy("widget", "Choose a file to send."),
}


def widget_strings(language: str) -> dict[str, str]:
    """Every word of the widget in `language` (one of settings.LANGUAGES): STRINGS as they are, and the
    error sentences under "error.<code>"."""
    with translation.override(language):
        found = {key: str(text) for key, text in STRINGS.items()}
        found.update({f"error.{code}": str(text) for code, text in ERROR_WORDS.items()})
    return found
