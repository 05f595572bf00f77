"""Bot fixtures: the demo-like flow on a web inbox with Sales and Support queues, through the real switch."""

from __future__ import annotations

import pytest

from crm.roles import AGENT
from routing.models import AgentStatus
from tests.factories import (
    AgentProfileFactory,
    BotFlowFactory,
    ContactFactory,
    FaqEntryFactory,
    FlowStepFactory,
    InboxFactory,
    QueueFactory,
    UserFactory,
)


@pytest.fixture(autouse=True)
def routing_backend():
    """Routing's in-process backend: these tests drive one process (routing's contract suite covers Redis)."""
    from routing.backends import channel_kinds, set_backend
    from routing.backends.memory import MemoryBackend

    previous = set_backend(MemoryBackend(channel_kinds=channel_kinds()))
    yield
    set_backend(previous)


@pytest.fixture
def queues(db):
    return {"sales": QueueFactory(name="Sales"), "support": QueueFactory(name="Support")}


def build_flow(inbox, queues):
    flow = BotFlowFactory(inbox=inbox, welcome={"en": "Welcome to the shop!", "fr": "Bienvenue !"})
    FlowStepFactory(flow=flow, position=1, key="greet", kind="message", text="Hi {name}!")
    FlowStepFactory(
        flow=flow,
        position=2,
        key="menu",
        kind="question",
        text={"en": "Sales or Support?", "fr": "Ventes ou assistance ?"},
        options=[
            {"label": {"en": "Sales", "fr": "Ventes"}, "queue": "Sales", "next": "handover"},
            {"label": {"en": "Support", "fr": "Assistance"}, "queue": queues["support"].pk, "next": "email"},
        ],
    )
    FlowStepFactory(flow=flow, position=3, key="email", kind="capture", capture_field="email", text="Your e-mail?")
    FlowStepFactory(flow=flow, position=4, key="handover", kind="handover", text="Connecting you now.")
    FaqEntryFactory(
        title="Opening hours",
        phrasings="What are your opening hours?\nWhen are you open?",
        keywords="hours, open",
        answer="Monday to Friday, 08:00-20:00 UTC.",
    )
    return flow


@pytest.fixture
def inbox(queues):
    return InboxFactory(key="shop", kind="web", default_queue=queues["support"])


@pytest.fixture
def flow(inbox, queues):
    return build_flow(inbox, queues)


@pytest.fixture
def contact(db):
    return ContactFactory(name="Ada", emails=[], phones=[], language="en", timezone="Europe/Paris")


@pytest.fixture
def make_agent(queues):
    def make(username: str, *, queue_names=("sales", "support")):
        from imsubsystem.services import agent_presence_set

        user = UserFactory(username=username, first_name=username.capitalize(), role=AGENT)
        AgentProfileFactory(
            user=user, status=AgentStatus.OFFLINE, queues=[queues[n] for n in queue_names], default_capacity=3
        )
        agent_presence_set(agent_id=user.pk, status="available")
        return user

    return make
