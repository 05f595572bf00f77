"""Who may see a conversation: the one rule every surface asks, and the scopes it is made of.

The console's API and socket, the supervisor pages, API and sockets, the contact record, attachment links and
the admin all decide through `conversation_visible_to` (one conversation) or `conversations_visible_q` (a
list); the two are the same rule, written once for a row and once for a query.

- an admin (superuser or the Admin role) sees every conversation;
- anyone sees the conversations assigned to them;
- a supervisor (`imsubsystem.supervise`) also sees those of the queues their teams supervise, and those
  without a queue assigned to an agent serving one of those queues;
- anyone @mentioned in an internal note of a conversation sees that conversation (read, and write internal
  notes to answer): a mention is how a colleague is asked in (imsubsystem/services/notifications.py says who
  may be mentioned). It lets them see, not act: the rule's `acting=True` form, which every action that
  changes the conversation or speaks to the customer asks (transfer, close, reopen, read marks, a public
  reply), leaves the mention out;
- nobody else sees anything. Surfaces answer "not found" either way, so ids cannot be probed.

Starting a conversation on an inbox (`inbox_usable_by`) follows the same scopes through the inbox's
default queue: an admin anywhere, an agent on the inboxes whose queue they serve, a supervisor also on
their teams' queues' inboxes.

Teams belong to the supervisor app, which sits above the switch: it answers the switch's
`supervision_scope` hook (imsubsystem/hooks.py), subscribed in its AppConfig.ready. Without an answer,
supervisors see only what is assigned to them.
"""

from __future__ import annotations

from django.db.models import Q

from crm.roles import ADMIN
from imsubsystem.hooks import ScopeWanted, supervision_scope
from imsubsystem.models import Conversation, Notification, NotificationKind
from routing.models import AgentProfile


def user_is_admin(user) -> bool:
    if not user or not user.is_authenticated or not user.is_active:
        return False
    return user.is_superuser or user.groups.filter(name=ADMIN).exists()


def supervised_scope(*, user) -> tuple[frozenset[int], frozenset[int]]:
    """(queue ids, agent user ids) of the teams this user supervises; empty for everyone else."""
    if not user.has_perm("imsubsystem.supervise"):
        return frozenset(), frozenset()
    queue_ids, agent_ids = supervision_scope.ask(ScopeWanted(user_id=user.pk), ((), ()))
    return frozenset(queue_ids), frozenset(agent_ids)


def _mentioned_in(*, user, conversation_id: int) -> bool:
    return Notification.objects.filter(
        user_id=user.pk, conversation_id=conversation_id, kind=NotificationKind.MENTION
    ).exists()


def conversation_visible_to(*, user, conversation: Conversation, acting: bool = False) -> bool:
    """May this user see this conversation (its messages, notes, contact, files, live frames)? With
    `acting`, may they act on it (transfer, close, read marks, a reply to the customer): the same rule
    without the mention clause."""
    if not user or not user.is_authenticated or not user.is_active:
        return False
    if conversation.assignee_id is not None and conversation.assignee_id == user.pk:
        return True
    # The Admin role holds every permission, so anyone without this one is neither admin nor supervisor.
    if user.has_perm("imsubsystem.supervise"):
        if user_is_admin(user):
            return True
        queue_ids, agent_ids = supervised_scope(user=user)
        if conversation.queue_id is not None and conversation.queue_id in queue_ids:
            return True
        if conversation.queue_id is None and conversation.assignee_id in agent_ids:
            return True
    return not acting and _mentioned_in(user=user, conversation_id=conversation.pk)


def conversations_visible_q(*, user, acting: bool = False) -> Q:
    """The same rule as a filter on Conversation (an admin's is the empty Q: everything)."""
    if not user or not user.is_authenticated or not user.is_active:
        return Q(pk__in=[])
    supervises = user.has_perm("imsubsystem.supervise")
    if supervises and user_is_admin(user):
        return Q()
    condition = Q(assignee_id=user.pk)
    if not acting:
        # The ids themselves, not a subquery: OR-ed with the other scopes a subquery is run per row on
        # MySQL, and most users were mentioned nowhere (then nothing is added).
        mentions = Notification.objects.filter(user_id=user.pk, kind=NotificationKind.MENTION)
        mentioned = set(mentions.values_list("conversation_id", flat=True))
        if mentioned:
            condition |= Q(pk__in=sorted(mentioned))
    if not supervises:
        return condition
    queue_ids, agent_ids = supervised_scope(user=user)
    if queue_ids:
        condition |= Q(queue_id__in=queue_ids)
    if agent_ids:
        condition |= Q(queue__isnull=True, assignee_id__in=agent_ids)
    return condition


def viewer_may_see_conversation(*, viewer: str, conversation_id: int, user) -> bool:
    """The media app's check when it serves a file (its `conversation_access` hook): an attachment link's viewer
    ("agent:<user id>" in that user's session, "customer:<contact id>", "platform:<inbox id>", "bot:…")
    may still see the file's conversation."""
    conversation = Conversation.objects.only("id", "contact_id", "inbox_id", "assignee_id", "queue_id").filter(
        pk=conversation_id
    )
    conversation = conversation.first()
    if conversation is None:
        return False
    kind, _, ident = viewer.partition(":")
    if kind == "agent":
        return str(getattr(user, "pk", "")) == ident and conversation_visible_to(user=user, conversation=conversation)
    if kind == "customer":
        return str(conversation.contact_id) == ident
    if kind == "platform":
        return str(conversation.inbox_id) == ident
    return kind == "bot"


def staff_may_access(*, user, conversation: Conversation) -> bool:
    """The same as conversation_visible_to (kept for callers that use this name)."""
    return conversation_visible_to(user=user, conversation=conversation)


def queue_ids_watched(*, user) -> list[int] | None:
    """The queues whose waiting list this user sees in the console: the queues they serve and, for a
    supervisor, their teams' queues; None (every queue) for an admin."""
    if user.has_perm("imsubsystem.supervise") and user_is_admin(user):
        return None
    queue_ids = set(agent_queue_ids(user_id=user.pk))
    queue_ids |= supervised_scope(user=user)[0]
    return sorted(queue_ids)


def agent_visible_to(*, user, agent_id: int) -> bool:
    """May a supervisor see this agent's presence (an agent of their teams; an admin: everyone)?"""
    if user_is_admin(user):
        return True
    return agent_id in supervised_scope(user=user)[1]


def inbox_usable_by(*, user, inbox) -> bool:
    """May this user start a conversation on this inbox? The same scopes as the rule above: an admin any
    active inbox; an agent one whose default queue they serve; a supervisor also one whose default queue
    their teams supervise. An inbox without a default queue is for admins only."""
    if not user or not user.is_authenticated or not user.is_active or not inbox.is_active:
        return False
    if user_is_admin(user):
        return True
    if inbox.default_queue_id is None:
        return False
    if inbox.default_queue_id in agent_queue_ids(user_id=user.pk):
        return True
    return inbox.default_queue_id in supervised_scope(user=user)[0]


def agent_queue_ids(*, user_id: int) -> list[int]:
    """The queues an agent works (their sockets join those queues' groups for queue-list updates)."""
    memberships = AgentProfile.queues.through.objects.filter(agentprofile__user_id=user_id)
    return list(memberships.values_list("queue_id", flat=True))
