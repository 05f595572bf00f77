"""The conversations API's scene: two teams, each with a queue, an inbox, a supervisor and an agent, an
admin, and conversations made through the switch's own services (so routing holds them as it would)."""

from __future__ import annotations

from imsubsystem import services as switch
from imsubsystem.models import Conversation
from routing.models import AgentStatus
from supervisor.models import Team
from tests.factories import AgentProfileFactory, ContactFactory, InboxFactory, QueueFactory, UserFactory

BASE = "/api/rest/v1"


def build_teams():
    """Team A (queue Sales, supervisor sup-a, agent ag-a) and team B (queue Support, sup-b, ag-b), and an
    admin. Agents are away: nothing is offered unless a test asks for it."""
    from crm.roles import ADMIN, AGENT, SUPERVISOR

    sales = QueueFactory(name="Sales")
    support = QueueFactory(name="Support")
    scene = {
        "sales": sales,
        "support": support,
        "sup_a": UserFactory(username="sup-a", role=SUPERVISOR),
        "sup_b": UserFactory(username="sup-b", role=SUPERVISOR),
        "ag_a": UserFactory(username="ag-a", role=AGENT),
        "ag_a2": UserFactory(username="ag-a2", role=AGENT),
        "ag_b": UserFactory(username="ag-b", role=AGENT),
        "admin": UserFactory(username="admin-api", role=ADMIN),
        "sales_inbox": InboxFactory(key="sales-web", kind="web", default_queue=sales),
        "support_inbox": InboxFactory(key="support-web", kind="web", default_queue=support),
    }
    AgentProfileFactory(user=scene["ag_a"], status=AgentStatus.AWAY, queues=[sales])
    AgentProfileFactory(user=scene["ag_a2"], status=AgentStatus.AWAY, queues=[sales])
    AgentProfileFactory(user=scene["ag_b"], status=AgentStatus.AWAY, queues=[support])
    for name, supervisor, queue in (("A", scene["sup_a"], sales), ("B", scene["sup_b"], support)):
        team = Team.objects.create(name=name)
        team.supervisors.set([supervisor])
        team.queues.set([queue])
    return scene


def waiting_conversation(inbox, *, commit, contact=None) -> Conversation:
    """A customer's conversation waiting in the inbox's queue; `commit` is pytest-django's
    django_capture_on_commit_callbacks (what the switch and routing do after commit runs)."""
    with commit(execute=True):
        pk = switch.conversation_for_customer(inbox_id=inbox.pk, contact_id=(contact or ContactFactory()).pk)
    return Conversation.objects.get(pk=pk)


def assigned_conversation(inbox, agent, *, by, commit, contact=None) -> Conversation:
    """A conversation routing gave to `agent` (a transfer straight to them: routing assigns on commit)."""
    conversation = waiting_conversation(inbox, contact=contact, commit=commit)
    with commit(execute=True):
        switch.conversation_transfer(conversation_id=conversation.pk, by_user_id=by.pk, agent_id=agent.pk)
    conversation.refresh_from_db()
    assert (conversation.status, conversation.assignee_id) == ("assigned", agent.pk)
    return conversation
