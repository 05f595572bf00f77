"""Admin pages of the bots (flow with inline steps, hours, FAQ, logs) and the demo seed."""

from __future__ import annotations

import pytest

from bots import demo
from bots.models import BotFlow, BusinessHours, FaqEntry, FlowStep
from routing.models import Queue
from tests.factories import BotFlowFactory, InboxFactory, QueueFactory, SkillFactory

pytestmark = pytest.mark.django_db


def step_post(flow_inbox_id, steps, **flow_fields):
    data = {
        "name": "Shop flow",
        "inbox": flow_inbox_id,
        "is_active": "on",
        "language": "en",
        "max_attempts": 3,
        "faq_enabled": "on",
        "faq_threshold": 70,
        "after_hours_priority": 10,
        "queue_update_every_s": 120,
        "idle_reminder_after_s": 300,
        "idle_close_after_s": 600,
        "survey_enabled": "on",
        "closed_notice": "on",
        "welcome": '{"en": "Hello", "fr": "Bonjour"}',
        "steps-TOTAL_FORMS": len(steps),
        "steps-INITIAL_FORMS": 0,
        "steps-MIN_NUM_FORMS": 0,
        "steps-MAX_NUM_FORMS": 1000,
        **flow_fields,
    }
    for index, step in enumerate(steps):
        defaults = {"options": "[]", "skills": "[]", "text": "", "invalid_text": "", "next_step": ""}
        for key, value in {**defaults, **step}.items():
            data[f"steps-{index}-{key}"] = value
    return data


def test_admin_builds_a_flow_with_inline_steps_and_translations(admin_client_role):
    inbox = InboxFactory(key="adm")
    QueueFactory(name="Sales")
    SkillFactory(name="billing")
    data = step_post(
        inbox.pk,
        [
            {
                "position": 1,
                "key": "menu",
                "kind": "question",
                "text": "Sales or support?",
                "options": '[{"label": {"en": "Sales", "fr": "Ventes"}, "queue": "Sales"}]',
            },
            {"position": 2, "key": "mail", "kind": "capture", "capture_field": "email", "text": "E-mail?"},
            {"position": 3, "key": "bye", "kind": "handover", "skills": '["billing"]'},
        ],
    )
    response = admin_client_role.post("/admin/bots/botflow/add/", data)
    assert response.status_code == 302, response.content.decode()[:3000]
    flow = BotFlow.objects.get(inbox=inbox)
    assert flow.welcome == {"en": "Hello", "fr": "Bonjour"}
    assert list(flow.steps.values_list("key", "kind")) == [
        ("menu", "question"),
        ("mail", "capture"),
        ("bye", "handover"),
    ]
    assert FlowStep.objects.get(key="bye").skills == ["billing"]
    assert admin_client_role.get(f"/admin/bots/botflow/{flow.pk}/change/").status_code == 200


@pytest.mark.parametrize(
    ("steps", "error"),
    [
        ([{"position": 1, "key": "a", "kind": "message", "text": "x", "next_step": "nowhere"}], "does not exist"),
        ([{"position": 1, "key": "q", "kind": "question", "text": "x"}], "at least one option"),
        ([{"position": 1, "key": "c", "kind": "capture", "text": "x"}], "Choose the contact field"),
    ],
)
def test_admin_refuses_a_flow_that_cannot_run(admin_client_role, steps, error):
    inbox = InboxFactory(key="adm2")
    response = admin_client_role.post("/admin/bots/botflow/add/", step_post(inbox.pk, steps))
    assert response.status_code == 200
    assert error in response.content.decode()
    assert not BotFlow.objects.exists()


def test_admin_refuses_bad_translations(admin_client_role):
    inbox = InboxFactory(key="adm3")
    response = admin_client_role.post("/admin/bots/botflow/add/", step_post(inbox.pk, [], welcome='{"english": "Hi"}'))
    assert response.status_code == 200 and "is not a language tag" in response.content.decode()


def test_admin_refuses_an_unknown_timezone(admin_client_role):
    response = admin_client_role.post(
        "/admin/bots/businesshours/add/",
        {
            "name": "Office",
            "timezone": "Europe/Atlantis",
            "weekly-TOTAL_FORMS": 0,
            "weekly-INITIAL_FORMS": 0,
            "special_days-TOTAL_FORMS": 0,
            "special_days-INITIAL_FORMS": 0,
        },
    )
    assert response.status_code == 200 and "Unknown timezone" in response.content.decode()
    assert not BusinessHours.objects.exists()


@pytest.mark.parametrize(
    "path", ["/admin/bots/faqentry/", "/admin/bots/faqlog/", "/admin/bots/surveyresponse/", "/admin/bots/botsession/"]
)
def test_admin_lists_render(admin_client_role, path):
    BotFlowFactory()
    assert admin_client_role.get(path).status_code == 200


def test_demo_seed_is_idempotent_and_builds_the_demo_flow():
    support = QueueFactory(name="Support")
    QueueFactory(name="Sales")
    InboxFactory(key="demo", kind="web", default_queue=support)
    InboxFactory(key="demo-after-hours", kind="web", default_queue=support)
    demo.seed()
    demo.seed()
    flow = BotFlow.objects.get(inbox__key="demo")
    assert [s.key for s in flow.steps.all()] == ["menu", "handover"]
    assert FaqEntry.objects.count() == 3
    hours = BusinessHours.objects.get(name=demo.DEMO_HOURS)
    assert flow.business_hours == hours
    # Open every day, all day; the hours are the flows', so the queues have none of their own.
    assert set(Queue.objects.values_list("business_hours_id", flat=True)) == {None}
    assert [(w.weekday, w.opens.hour, w.closes.hour) for w in hours.weekly.all()] == [(d, 0, 0) for d in range(7)]
    after_hours = BotFlow.objects.get(inbox__key="demo-after-hours")
    assert after_hours.business_hours.name == demo.DEMO_CLOSED_HOURS
    assert not after_hours.business_hours.weekly.exists()
    assert [s.kind for s in after_hours.steps.all()] == ["handover"]


def test_demo_seed_brings_earlier_demo_hours_up_to_date():
    """Demo data seeded when the demo hours were weekdays 08:00-20:00 on the queues."""
    from datetime import time

    from bots.models import WeeklyHours

    support = QueueFactory(name="Support")
    InboxFactory(key="demo", kind="web", default_queue=support)
    old = BusinessHours.objects.create(name=demo.DEMO_HOURS, timezone="UTC")
    for weekday in range(5):
        WeeklyHours.objects.create(schedule=old, weekday=weekday, opens=time(8), closes=time(20))
    Queue.objects.filter(pk=support.pk).update(business_hours_id=old.pk)
    demo.seed()
    assert old.weekly.count() == 7
    assert Queue.objects.get(pk=support.pk).business_hours_id is None
