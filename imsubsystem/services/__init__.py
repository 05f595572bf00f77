"""The switch's actions: the only code that writes conversations and messages, and the only code that
publishes to the channel layer (always after commit, through `publish.event_publish_on_commit`).

Every function is keyword-only and takes and returns plain values (ids, dicts in the shape of
imsubsystem/events.py), so sockets, HTTP views, Celery tasks, the gateway and the bots call them alike.
Refusals raise SwitchError (a core.errors.DomainError) and change nothing. Other apps import the names
below from `imsubsystem.services`; each lives in one module:

- `state.py`: the status table (`TRANSITIONS`), the row lock, the customer's wait clock, `SwitchError`,
  the text check, routing's refusals as the switch's;
- `publish.py`: the one publish point (`event_publish_on_commit`, `typing_publish`, status frames; every
  frame checked against events.py when IM_FRAME_CHECK is on, as in the tests);
- `messages.py`: the one write path for messages (`messages_store`: a single send is a batch of one, with
  one duplicate check), over `drafts.py` (what a message must be, checked before any conversation is
  read) and `rows.py` (its two SQL statements);
- `delivery.py`: what the platform did with an outgoing message;
- `customers.py`: customers writing (widget, one message; API channel; platforms);
- `sends.py`: the sockets' batches: customers' and agents' messages in one call of the write path;
- `conversations.py`: open or reopen (a customer writing, or staff: `conversation_reopen`), hand to a
  queue, transfer, close, read pointers;
- `labels.py`: a conversation's labels (`conversation_labels_set`);
- `snooze.py`: snoozing and waking conversations (`conversation_snooze`, `conversation_unsnooze`, the
  timer `snoozes_wake`, and the write path's hook that wakes one when its customer writes);
- `assignment.py`: the bridge to routing (the status moves its hook events drive, the agents' commands
  passed to it);
- `merge.py`: a contact merge's effect on conversations; revoking widget sessions;
- `notifications.py`: @mentions in internal notes recorded with the note and sent to the people named,
  and marking them read (`notifications_read_mark`);
- `outbound.py`: an agent or integrator starting a conversation with a contact (the first message on a
  platform, or waiting for a widget visitor's next visit).
"""

from imsubsystem.services.assignment import (
    agent_console_close,
    agent_console_open,
    agent_consoles_sweep,
    agent_presence_publish,
    agent_presence_set,
    conversation_assign,
    conversation_mark_offered,
    conversation_pick,
    conversation_requeued,
    offer_answer,
    offer_closed_publish,
    queue_positions_publish,
)
from imsubsystem.services.conversations import (
    bot_handles_inbox,
    conversation_close,
    conversation_for_customer,
    conversation_queue,
    conversation_read_mark,
    conversation_reopen,
    conversation_transfer,
)
from imsubsystem.services.customers import customer_message_send, inbound_message_receive
from imsubsystem.services.delivery import message_delivery_update
from imsubsystem.services.labels import conversation_labels_set
from imsubsystem.services.merge import conversations_move_contact, widget_sessions_revoke
from imsubsystem.services.messages import message_send
from imsubsystem.services.notifications import notifications_read_mark
from imsubsystem.services.outbound import conversation_start_outbound
from imsubsystem.services.publish import event_publish_on_commit, typing_publish
from imsubsystem.services.sends import agent_sends_refused, customer_messages_send_many, messages_send_many
from imsubsystem.services.snooze import conversation_snooze, conversation_unsnooze, snoozes_wake
from imsubsystem.services.state import TRANSITIONS, SwitchError, status_move_allowed, text_check

__all__ = [
    "TRANSITIONS",
    "SwitchError",
    "agent_console_close",
    "agent_console_open",
    "agent_consoles_sweep",
    "agent_presence_publish",
    "agent_presence_set",
    "agent_sends_refused",
    "bot_handles_inbox",
    "conversation_assign",
    "conversation_close",
    "conversation_for_customer",
    "conversation_labels_set",
    "conversation_mark_offered",
    "conversation_pick",
    "conversation_queue",
    "conversation_read_mark",
    "conversation_reopen",
    "conversation_requeued",
    "conversation_snooze",
    "conversation_start_outbound",
    "conversation_transfer",
    "conversation_unsnooze",
    "conversations_move_contact",
    "customer_message_send",
    "customer_messages_send_many",
    "event_publish_on_commit",
    "inbound_message_receive",
    "message_delivery_update",
    "message_send",
    "messages_send_many",
    "notifications_read_mark",
    "offer_answer",
    "offer_closed_publish",
    "queue_positions_publish",
    "snoozes_wake",
    "status_move_allowed",
    "text_check",
    "typing_publish",
    "widget_sessions_revoke",
]
