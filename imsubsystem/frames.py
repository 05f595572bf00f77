"""Every frame of the real-time protocol and the internal message format, as typed declarations.

A frame is a JSON object with a "type". Every frame a socket sends (`SERVER_FRAMES`, the supervisors'
sockets' included) and every frame a client may send (`CLIENT_FRAMES`) is declared here as a TypedDict;
imsubsystem/events.py checks a frame against its declaration (`frame_validate`; a socket's one send path
runs `server_frame_check` on every frame when settings.IM_FRAME_CHECK is on, as in the tests). Only
plain JSON values cross the channel layer, Celery and the hook events: never ORM objects.
docs/protocol.md describes each frame. Declarations only, so a reader finds every frame in one place:
the reason this module runs past 400 lines.
"""

from typing import Any, Literal, NotRequired, TypedDict

SenderKindName = Literal["customer", "agent", "bot", "system"]
StatusName = Literal["bot", "queued", "offered", "assigned", "closed"]
DeliveryName = Literal["stored", "pending", "retrying", "sent", "delivered", "read", "failed"]
PresenceName = Literal["available", "away", "offline"]
# What routing counts an agent as: the status they chose, or `disconnected` once they have had no live
# console for longer than the grace (docs/routing.md). Nobody chooses `disconnected`.
PresenceShownName = Literal["available", "away", "offline", "disconnected"]


# --- Payloads inside frames ----------------------------------------------------------------------
class Sender(TypedDict):
    kind: SenderKindName
    name: str
    id: NotRequired[int | None]  # the user id of an agent


class Attachment(TypedDict):
    """Published frames carry the first five fields; each socket adds the viewer's signed URLs."""

    id: int
    status: Literal["pending", "ready", "failed", "deleted"]
    name: NotRequired[str]
    content_type: NotRequired[str]
    size: NotRequired[int]
    url: NotRequired[str | None]
    thumbnail_url: NotRequired[str | None]
    width: NotRequired[int | None]
    height: NotRequired[int | None]
    error: NotRequired[str | None]
    expires_at: NotRequired[str | None]  # when the signed URLs stop working (the client then asks for fresh ones)


class Button(TypedDict):
    """A choice under a bot message: the widget shows `label` and sends it back as the customer's text."""

    label: str
    value: str


class MessagePayload(TypedDict):
    """The internal message format: what services return, frames carry and bot handlers receive."""

    id: int
    conversation_id: int
    seq: int
    client_id: str | None
    sender: Sender
    text: str
    attachments: list[Attachment]
    private: bool
    created_at: str
    delivery_status: DeliveryName
    delivery_error: NotRequired[str]
    delivery_retry_at: NotRequired[str]  # while `retrying`: when the next attempt is due
    buttons: NotRequired[list[Button]]  # only on bot messages that offer choices


class QueueInfo(TypedDict):
    position: int
    eta_s: int | None
    # The customer's wait so far, from the hand-over (docs/supervisor.md): what the staff see too.
    waited_s: NotRequired[int | None]


class AgentRef(TypedDict):
    id: NotRequired[int]
    name: str


class ContactRef(TypedDict):
    id: int
    name: str


class LabelRef(TypedDict):
    id: int
    name: str
    colour: str  # "#" and six hex digits, validated when the label is saved


class ConversationSummary(TypedDict):
    id: int
    status: StatusName
    inbox: dict[str, Any]
    contact: ContactRef
    queue_id: int | None
    assignee_id: int | None
    last_seq: int
    unread: int
    last_message_at: str | None
    created_at: str
    status_version: NotRequired[int]
    queue: NotRequired[dict[str, Any] | None]  # {"id", "name"}: the console's list and conversation.assigned
    language: NotRequired[str]  # the customer's language (selectors/language.py); "" before it was stored
    labels: NotRequired[list[LabelRef]]  # the console's lists
    snoozed: NotRequired[bool]
    snoozed_until: NotRequired[str | None]  # null while snoozed: until the customer writes


# --- Server → client frames ----------------------------------------------------------------------
class ReadyFrame(TypedDict):
    type: Literal["ready"]
    conversation_id: int | None
    last_seq: int
    status: NotRequired[StatusName | None]
    status_version: NotRequired[int]  # the conversation.status version this status is
    agent: NotRequired[AgentRef]  # who is chatting, when assigned
    queue: NotRequired[QueueInfo]  # position and wait, when queued or offered


class PersonRef(TypedDict):
    id: int | None
    name: str


class NotificationPayload(TypedDict):
    """A staff member's notification: an @mention in an internal note (services/notifications.py)."""

    id: int
    kind: Literal["mention"]
    conversation: ConversationSummary
    message_id: int
    seq: int
    text: str  # the note, cut at 200 characters
    by: PersonRef | None
    created_at: str
    read: bool


class TransferNote(TypedDict):
    """The note a transfer carried for the receiving agent (selectors.transfer_note_of)."""

    message_id: int
    seq: int
    text: str
    by: PersonRef
    created_at: str


class AgentReadyFrame(TypedDict):
    type: Literal["agent.ready"]
    user: AgentRef
    roles: list[str]
    conversations: list[ConversationSummary]
    notifications: NotRequired[list[NotificationPayload]]  # unread, newest first (at most 50)
    notifications_unread: NotRequired[int]


class NotificationNewFrame(TypedDict):
    type: Literal["notification.new"]
    notification: NotificationPayload


class NotificationReadFrame(TypedDict):
    """To every socket of the user: these were marked read (on any of their consoles)."""

    type: Literal["notification.read"]
    notification_ids: list[int]
    unread: int


class SupervisorReadyFrame(TypedDict):
    type: Literal["supervisor.ready"]
    user: AgentRef


class MessageNewFrame(TypedDict):
    type: Literal["message.new"]
    message: MessagePayload


class MessageHiddenFrame(TypedDict):
    """Tells a customer that `seq` exists but is not theirs (an internal note): the gap rule."""

    type: Literal["message.hidden"]
    conversation_id: int
    seq: int


class MessageAckFrame(TypedDict):
    type: Literal["message.ack"]
    client_id: str
    message: MessagePayload
    duplicate: bool


class MessageStatusFrame(TypedDict):
    type: Literal["message.status"]
    conversation_id: int
    message_id: int
    seq: int
    status: DeliveryName
    error: str
    retry_at: NotRequired[str | None]  # with `retrying`: when the next attempt is due


class ResumeDoneFrame(TypedDict):
    type: Literal["resume.done"]
    conversation_id: int | None
    last_seq: int


class TypingFrame(TypedDict):
    type: Literal["typing"]
    conversation_id: int
    active: bool
    sender: Sender


class ReadFrame(TypedDict):
    type: Literal["read"]
    conversation_id: int
    by: Literal["customer", "agent"]
    up_to_seq: int


class ConversationStatusFrame(TypedDict):
    type: Literal["conversation.status"]
    conversation_id: int
    status: StatusName
    # Rises with every status move of the conversation; a client keeps the frame with the highest
    # version it has seen (equal: a newer queue position for the same status).
    version: NotRequired[int]
    queue: NotRequired[QueueInfo]
    agent: NotRequired[AgentRef]


class ConversationAssignedFrame(TypedDict):
    type: Literal["conversation.assigned"]
    conversation: ConversationSummary
    agent: AgentRef
    previous_agent_id: int | None


class ConversationStartedFrame(TypedDict):
    """A customer's socket moved to a new conversation (the old one was closed)."""

    type: Literal["conversation.started"]
    conversation_id: int
    last_seq: int


class ConversationReleasedFrame(TypedDict):
    """To the agent who no longer holds a conversation (transferred or requeued): stop showing it."""

    type: Literal["conversation.released"]
    conversation_id: int
    status: StatusName


class ConversationLabelsFrame(TypedDict):
    """Staff watching a conversation: its labels changed (never sent to the customer)."""

    type: Literal["conversation.labels"]
    conversation_id: int
    labels: list[LabelRef]


class ConversationSnoozedFrame(TypedDict):
    """To the agent's sockets: the conversation left their active list until `until` (null: until the
    customer writes)."""

    type: Literal["conversation.snoozed"]
    conversation_id: int
    until: str | None


class ConversationUnsnoozedFrame(TypedDict):
    """To the agent's sockets: a snoozed conversation came back (`reason`: time, customer or agent);
    `status` is its status now (assigned when it stayed with the agent, queued when it went back through
    routing)."""

    type: Literal["conversation.unsnoozed"]
    conversation_id: int
    reason: Literal["time", "customer", "agent"]
    status: StatusName


class OfferFrame(TypedDict):
    type: Literal["offer"]
    offer_id: str
    conversation: ConversationSummary
    expires_at: str
    note: NotRequired[TransferNote | None]  # the transfer's note for the receiving agent


class OfferClosedFrame(TypedDict):
    type: Literal["offer.closed"]
    offer_id: str
    conversation_id: int
    reason: Literal["accepted", "rejected", "expired", "cancelled"]


class PresenceFrame(TypedDict):
    type: Literal["presence"]
    agent_id: int
    status: PresenceShownName


class QueueChangedFrame(TypedDict):
    type: Literal["queue.changed"]
    queue_id: int


class QueueStatsRow(TypedDict):
    queue_id: int
    name: str
    waiting: int
    longest_wait_s: int
    average_wait_s: float | None  # seconds, to a tenth
    service_level: float | None
    abandoned: int
    active: int
    agents: dict[str, int]


class AgentStatsRow(TypedDict):
    agent_id: int
    name: str
    status: PresenceName  # what the agent chose
    connected: NotRequired[bool]  # False: no live console for longer than the grace (routing offers nothing)
    state: NotRequired[str]  # available | busy | away | offline | disconnected
    load: int


class BotInboxRow(TypedDict):
    inbox_id: int
    name: str
    count: int


class BotStats(TypedDict):
    """Customers talking to the bot now, within the viewer's scope, per inbox."""

    total: int
    inboxes: list[BotInboxRow]


class QueueStatsFrame(TypedDict):
    type: Literal["queue.stats"]
    at: str
    queues: list[QueueStatsRow]
    agents: list[AgentStatsRow]
    bot: NotRequired[BotStats]


# The dashboard's live socket (/ws/v1/supervisor/live/, docs/supervisor.md): supervisor.stats's snapshot.
class SnapshotWindow(TypedDict):
    """One window's figures (the last 30 minutes, or today since local midnight)."""

    arrived: int
    answered: int
    answered_in_time: int
    abandoned: int
    average_wait_s: float | None
    service_level: float | None


class QueueAlert(TypedDict):
    metric: Literal["longest_wait", "service_level"]
    level: Literal["critical", "warning"]
    value: float
    threshold: float


class ScopedAlert(QueueAlert):
    """A queue's alert in the snapshot's flat list, naming its queue."""

    queue_id: int
    queue: str


class SnapshotQueue(TypedDict):
    queue_id: int
    name: str
    threshold_s: int
    waiting: int
    longest_wait_s: int
    active: int
    capacity: int
    occupancy: float | None
    agents: dict[str, int]  # agents by state: available, busy, away, offline, disconnected
    recent: SnapshotWindow
    today: SnapshotWindow
    alerts: list[QueueAlert]


class SnapshotAgent(TypedDict):
    agent_id: int
    name: str
    status: PresenceName
    connected: bool
    state: Literal["available", "busy", "away", "offline", "disconnected"]
    status_since: str | None
    load: int
    capacity: int
    occupancy: float | None
    queue_ids: list[int]
    handled_today: int
    average_handle_s: float | None
    offers_missed_today: int


class Spread(TypedDict):
    max: float | None
    min: float | None
    range: float | None
    mean: float | None
    cv: float | None


class AgentAssignments(TypedDict):
    total: int
    per_hour: float
    hours: dict[str, int]  # local hour (ISO) -> conversations assigned


class Assignments(TypedDict):
    since: str
    hours: list[str]
    per_agent: dict[str, AgentAssignments]  # agent id (as text) -> their assignments today
    per_hour_spread: Spread


class Fairness(TypedDict):
    occupancy: Spread
    assignments: Assignments


class SupervisorSnapshotFrame(TypedDict):
    type: Literal["supervisor.snapshot"]
    at: str
    queues: list[SnapshotQueue]
    agents: list[SnapshotAgent]
    bot: BotStats
    alerts: list[ScopedAlert]
    fairness: Fairness


class OkFrame(TypedDict):
    """Answers a command that has no natural result frame (offer.accept, presence.set...)."""

    type: Literal["ok"]
    command: str
    conversation_id: NotRequired[int | None]


class PongFrame(TypedDict):
    type: Literal["pong"]


class ErrorFrame(TypedDict):
    type: Literal["error"]
    code: str
    detail: str
    client_id: NotRequired[str]
    command: NotRequired[str]
    retry_after_s: NotRequired[int]  # rate_limited: seconds until the next message is accepted
    reason: NotRequired[Literal["unknown", "revoked", "expired"]]  # why auth_failed: the widget starts anew


# --- Client → server frames ----------------------------------------------------------------------
class AuthFrame(TypedDict):
    type: Literal["auth"]
    token: str
    after_seq: NotRequired[int]


class MessageSendFrame(TypedDict):
    type: Literal["message.send"]
    client_id: str
    text: NotRequired[str]
    attachment_ids: NotRequired[list[int]]
    conversation_id: NotRequired[int]  # agents: required
    private: NotRequired[bool]  # agents only
    mentions: NotRequired[list[int]]  # agents' internal notes only: user ids of the colleagues @mentioned


class ResumeFrame(TypedDict):
    type: Literal["resume"]
    after_seq: int
    conversation_id: NotRequired[int]  # agents: required


class TypingCommandFrame(TypedDict):
    type: Literal["typing"]
    active: bool
    conversation_id: NotRequired[int]


class ReadCommandFrame(TypedDict):
    type: Literal["read"]
    up_to_seq: int
    conversation_id: NotRequired[int]


class OfferAnswerFrame(TypedDict):
    type: Literal["offer.accept", "offer.reject"]
    offer_id: str


class PresenceSetFrame(TypedDict):
    type: Literal["presence.set"]
    status: PresenceName


class TransferFrame(TypedDict):
    type: Literal["conversation.transfer"]
    conversation_id: int
    queue_id: NotRequired[int]
    agent_id: NotRequired[int]
    note: NotRequired[str]  # for the receiving agent: an internal note, shown in their offer


class CloseFrame(TypedDict):
    type: Literal["conversation.close"]
    conversation_id: int
    wrap_up: NotRequired[str]
    reason_code: NotRequired[str]  # one of the admin's close reasons (docs/imsubsystem.md, "Close reasons")


class PickFrame(TypedDict):
    type: Literal["conversation.pick"]
    conversation_id: int


class NotificationReadCommandFrame(TypedDict):
    type: Literal["notification.read"]
    notification_ids: list[int]


class PingFrame(TypedDict):
    type: Literal["ping"]


SERVER_FRAMES: dict[str, type] = {
    "ready": ReadyFrame,
    "agent.ready": AgentReadyFrame,
    "supervisor.ready": SupervisorReadyFrame,
    "message.new": MessageNewFrame,
    "message.hidden": MessageHiddenFrame,
    "message.ack": MessageAckFrame,
    "message.status": MessageStatusFrame,
    "resume.done": ResumeDoneFrame,
    "typing": TypingFrame,
    "read": ReadFrame,
    "conversation.status": ConversationStatusFrame,
    "conversation.assigned": ConversationAssignedFrame,
    "conversation.started": ConversationStartedFrame,
    "conversation.released": ConversationReleasedFrame,
    "conversation.labels": ConversationLabelsFrame,
    "conversation.snoozed": ConversationSnoozedFrame,
    "conversation.unsnoozed": ConversationUnsnoozedFrame,
    "offer": OfferFrame,
    "offer.closed": OfferClosedFrame,
    "notification.new": NotificationNewFrame,
    "notification.read": NotificationReadFrame,
    "presence": PresenceFrame,
    "queue.changed": QueueChangedFrame,
    "queue.stats": QueueStatsFrame,
    "supervisor.snapshot": SupervisorSnapshotFrame,
    "ok": OkFrame,
    "pong": PongFrame,
    "error": ErrorFrame,
}

CLIENT_FRAMES: dict[str, type] = {
    "auth": AuthFrame,
    "message.send": MessageSendFrame,
    "resume": ResumeFrame,
    "typing": TypingCommandFrame,
    "read": ReadCommandFrame,
    "offer.accept": OfferAnswerFrame,
    "offer.reject": OfferAnswerFrame,
    "presence.set": PresenceSetFrame,
    "conversation.transfer": TransferFrame,
    "conversation.close": CloseFrame,
    "conversation.pick": PickFrame,
    "notification.read": NotificationReadCommandFrame,
    "ping": PingFrame,
}

# Which client frames each socket accepts.
WIDGET_COMMANDS = frozenset({"auth", "message.send", "resume", "typing", "read", "ping"})
AGENT_COMMANDS = frozenset(CLIENT_FRAMES) - {"auth"}
SUPERVISOR_COMMANDS = frozenset({"ping"})
