"""The agent console's JSON endpoints under /api/v1/agent/ (docs/interface.md).

Session-authenticated, for staff who handle or supervise conversations (`base.console_endpoint`). Reads
go through the switch's selectors and writes to the contact record through crm.services; nothing here
changes a conversation (that is the agent socket's job, through the switch's services), except sending
an approved platform template, which goes through the gateway's template_send, and starting a
conversation with a contact (the switch's conversation_start_outbound), and setting a conversation's
labels or snoozing it (`labels`: the switch's conversation_labels_set, conversation_snooze). Files an agent sends are
uploaded here first and then named by id in the socket's message.send frame. A refusal answers
`{"error": {"code", "detail", ...}}` (core/http.py), as every HTTP API does.

Modules: `base` (the endpoint decorator, the conversation a URL names), `conversations` (lists, history,
canned responses, transfer targets), `contacts` (the contact beside a conversation), `labels` (labels,
close reasons, snooze), `messages` (templates, retry), `attachments` (uploads, fresh links), `outbound`
(a new conversation with a contact), `transcript` (a conversation's whole transcript, read-only), `search`
(the search box: conversations by message text, contacts, filters).
"""

from django.urls import path

from interface.api_agent import attachments, contacts, conversations, labels, messages, outbound, search, transcript

urlpatterns = [
    path("conversations", conversations.my_conversations, name="conversations"),
    path("queue", conversations.queue_list, name="queue"),
    path(
        "conversations/<int:conversation_id>/messages",
        conversations.conversation_messages,
        name="conversation_messages",
    ),
    path(
        "conversations/<int:conversation_id>/transcript",
        transcript.conversation_transcript,
        name="conversation_transcript",
    ),
    path("conversations/<int:conversation_id>/contact", contacts.conversation_contact, name="conversation_contact"),
    path("conversations/<int:conversation_id>/contact/notes", contacts.contact_note_add, name="contact_note_add"),
    path(
        "conversations/<int:conversation_id>/templates", messages.conversation_templates, name="conversation_templates"
    ),
    path(
        "conversations/<int:conversation_id>/template",
        messages.conversation_template_send,
        name="conversation_template_send",
    ),
    path(
        "conversations/<int:conversation_id>/messages/<int:message_id>/retry",
        messages.message_retry,
        name="message_retry",
    ),
    path("contacts/<int:contact_id>/conversations", outbound.contact_conversations, name="contact_conversations"),
    path("labels", labels.labels_and_reasons, name="labels"),
    path("conversations/<int:conversation_id>/labels", labels.conversation_labels, name="conversation_labels"),
    path("conversations/<int:conversation_id>/snooze", labels.conversation_snooze, name="conversation_snooze"),
    path("conversations/<int:conversation_id>/unsnooze", labels.conversation_unsnooze, name="conversation_unsnooze"),
    path("search", search.search, name="search"),
    path("search/contacts", search.search_contacts, name="search_contacts"),
    path("search/filters", search.search_filters, name="search_filters"),
    path("canned", conversations.canned_responses, name="canned"),
    path("transfer-targets", conversations.transfer_targets, name="transfer_targets"),
    path("uploads", attachments.upload_create, name="uploads"),
    path("attachments/links", attachments.attachment_links, name="attachment_links"),
]
