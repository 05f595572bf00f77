"""Reads for the consoles, the widget and other apps. Payloads are plain dicts (imsubsystem/events.py).

Callers import this package (`from imsubsystem import selectors`, `selectors.<name>`); every public name
is re-exported here from the module that holds it, each one layer above the last:

- `visibility.py`: who may see a conversation, the one rule every surface asks
  (`conversation_visible_to`, `conversations_visible_q`), the supervisor's scope
  (`supervised_scope`, `user_is_admin`, `agent_visible_to`), who may start a conversation on an inbox
  (`inbox_usable_by`), the queues an
  agent works and watches (`agent_queue_ids`, `queue_ids_watched`) and the media app's file check
  (`viewer_may_see_conversation`);
- `waiting.py`: the customer's wait (`customer_wait_s`, `wait_fields`), every queue's live counts
  (`queue_live`) and the place in line routing gives (`queue_info`, `queue_infos`);
- `conversations.py`: one conversation (`conversation_get`, `conversation_visible_get`,
  `customer_conversation_current`, `customer_status`), the console lists (`conversations_for_agent` with
  unread counts, `conversations_waiting`, `conversations_for_contact`), `conversation_summary`,
  `offer_frames_open`, what a conversation can be started on (`outbound_inboxes_for`,
  `contact_widget_session_live`), people's names (`user_display_name`, `user_get`) and the inbox, contact and canned
  responses reads;
- `labels.py`: the active labels and close reasons (`labels_active`, `close_reasons_active`) and the
  labels of many conversations in one query (`labels_of`), and labels as a page draws their chips
  (`label_chips`: checked colours, the text's ink);
- `language.py`: which language a customer gets (`customer_language`, `conversation_language`) and how
  a text held per language falls back (`text_for_language`, `ui_language`; docs/i18n.md, "Customers");
- `messages.py`: message payloads and attachment descriptions (`message_payload`, `attachments_describe`,
  `payload_for_viewer`), history after a seq (`messages_after`, `history_for_customer`) or before one,
  newest first (`messages_before`), the idempotency look-ups (`message_by_client_id`,
  `message_by_platform_id`) and fresh attachment links (`attachment_links_for_customer`,
  `attachment_links_for_staff`, `LINKS_MAX`, `LINKS_PER_MINUTE`);
- `transcript.py`: a conversation's whole transcript, read-only, through the one visibility rule
  (`conversation_transcript`: messages, notes, files and the conversation's events; docs/imsubsystem.md,
  "Transcripts");
- `notifications.py`: a staff member's notifications (`notifications_for`, `notifications_unread_count`,
  `notification_payload`) and who may be @mentioned (`mentionable_users`, `mentionable_user_ids`);
- `search.py`: the message search through the one visibility rule (`messages_search`, `message_ids_search`,
  `search_page`, `contact_ids_by_message_text` for the CRM's contact search), and the console's and the
  API's search by conversation (`conversations_search`, its filters `SEARCH_FILTERS`,
  `search_filters_describe`, `search_filters_parse`, `search_request_parse`, `snippet`; docs/imsubsystem.md, "Search").
"""

from imsubsystem.selectors.conversations import (
    GATEWAY_KIND,
    canned_responses_for,
    contact_widget_session_live,
    conversation_contact,
    conversation_get,
    conversation_summary,
    conversation_visible_get,
    conversations_for_agent,
    conversations_for_contact,
    conversations_waiting,
    customer_conversation_current,
    customer_status,
    inbox_by_key,
    offer_frames_open,
    outbound_inboxes_for,
    queue_ref,
    transfer_note_of,
    user_display_name,
    user_get,
    webhook_path,
)
from imsubsystem.selectors.labels import close_reasons_active, label_chips, labels_active, labels_of
from imsubsystem.selectors.language import (
    conversation_language,
    customer_language,
    language_normalize,
    text_for_language,
    text_language_candidates,
    ui_language,
)
from imsubsystem.selectors.messages import (
    BOT_NAME,
    LINKS_MAX,
    LINKS_PER_MINUTE,
    SYSTEM_NAME,
    attachment_links_for_customer,
    attachment_links_for_staff,
    attachments_describe,
    history_for_customer,
    message_by_client_id,
    message_by_platform_id,
    message_payload,
    messages_after,
    messages_before,
    payload_for_viewer,
)
from imsubsystem.selectors.notifications import (
    mentionable_user_ids,
    mentionable_users,
    notification_payload,
    notifications_for,
    notifications_unread_count,
)
from imsubsystem.selectors.search import (
    QUERY_MAX_CHARS,
    SEARCH_FILTERS,
    SEARCH_LIMIT_MAX,
    contact_ids_by_message_text,
    conversations_search,
    message_ids_search,
    messages_search,
    search_filters_describe,
    search_filters_parse,
    search_page,
    search_request_parse,
    snippet,
)
from imsubsystem.selectors.transcript import TRANSCRIPT_MESSAGES_MAX, conversation_transcript
from imsubsystem.selectors.visibility import (
    agent_queue_ids,
    agent_visible_to,
    conversation_visible_to,
    conversations_visible_q,
    inbox_usable_by,
    queue_ids_watched,
    staff_may_access,
    supervised_scope,
    user_is_admin,
    viewer_may_see_conversation,
)
from imsubsystem.selectors.waiting import customer_wait_s, queue_info, queue_infos, queue_live, wait_fields

__all__ = [
    "BOT_NAME",
    "GATEWAY_KIND",
    "LINKS_MAX",
    "LINKS_PER_MINUTE",
    "QUERY_MAX_CHARS",
    "SEARCH_FILTERS",
    "SEARCH_LIMIT_MAX",
    "SYSTEM_NAME",
    "TRANSCRIPT_MESSAGES_MAX",
    "agent_queue_ids",
    "agent_visible_to",
    "attachment_links_for_customer",
    "attachment_links_for_staff",
    "attachments_describe",
    "canned_responses_for",
    "close_reasons_active",
    "contact_ids_by_message_text",
    "contact_widget_session_live",
    "conversation_contact",
    "conversation_get",
    "conversation_language",
    "conversation_summary",
    "conversation_transcript",
    "conversation_visible_get",
    "conversation_visible_to",
    "conversations_for_agent",
    "conversations_for_contact",
    "conversations_search",
    "conversations_visible_q",
    "conversations_waiting",
    "customer_conversation_current",
    "customer_language",
    "customer_status",
    "customer_wait_s",
    "history_for_customer",
    "inbox_by_key",
    "inbox_usable_by",
    "label_chips",
    "labels_active",
    "labels_of",
    "language_normalize",
    "mentionable_user_ids",
    "mentionable_users",
    "message_by_client_id",
    "message_by_platform_id",
    "message_ids_search",
    "message_payload",
    "messages_after",
    "messages_before",
    "messages_search",
    "notification_payload",
    "notifications_for",
    "notifications_unread_count",
    "offer_frames_open",
    "outbound_inboxes_for",
    "payload_for_viewer",
    "queue_ids_watched",
    "queue_info",
    "queue_infos",
    "queue_live",
    "queue_ref",
    "search_filters_describe",
    "search_filters_parse",
    "search_page",
    "search_request_parse",
    "snippet",
    "staff_may_access",
    "supervised_scope",
    "text_for_language",
    "text_language_candidates",
    "transfer_note_of",
    "ui_language",
    "user_display_name",
    "user_get",
    "user_is_admin",
    "viewer_may_see_conversation",
    "wait_fields",
    "webhook_path",
]
