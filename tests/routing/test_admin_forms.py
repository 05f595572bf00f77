"""Routing's and supervision's admin forms as an admin posts them: queues (timers, overflow), agents
(capacity per channel, skill levels), skills and teams."""

from __future__ import annotations

import html
import re

import pytest

from crm.roles import AGENT, SUPERVISOR
from routing.models import AgentProfile, Queue
from supervisor.models import Team
from tests.factories import AgentProfileFactory, QueueFactory, SkillFactory, UserFactory

pytestmark = pytest.mark.django_db


def page_errors(response) -> str:
    found = re.findall(r'<ul class="errorlist[^"]*"[^>]*>(.*?)</ul>', response.content.decode(), re.S)
    return " | ".join(html.unescape(re.sub(r"<[^>]+>", " ", chunk)).strip() for chunk in found)


def queue_post(**fields) -> dict:
    return {
        "name": "Billing",
        "policy": "least_busy",
        "is_active": "on",
        "offer_timeout_s": 30,
        "sticky_window_s": 20,
        "service_level_threshold_s": 60,
        "max_wait_s": "",
        "overflow_queue": "",
        **fields,
    }


def test_a_queue_is_saved_with_its_skills_and_overflow(admin_client_role):
    spare = QueueFactory(name="Spare")
    billing = SkillFactory(name="billing")
    response = admin_client_role.post(
        "/admin/routing/queue/add/",
        queue_post(skills_required=[billing.pk], max_wait_s=120, overflow_queue=spare.pk),
    )
    assert response.status_code == 302, page_errors(response)
    queue = Queue.objects.get(name="Billing")
    assert (queue.overflow_queue, queue.max_wait_s, list(queue.skills_required.all())) == (spare, 120, [billing])
    # The hours are shown, and chosen on the schedule's page: a posted id changes nothing.
    Queue.objects.filter(pk=queue.pk).update(business_hours_id=7)
    page = admin_client_role.get(f"/admin/routing/queue/{queue.pk}/change/").content.decode()
    assert "Business hours" in page and 'name="business_hours_id"' not in page
    admin_client_role.post(f"/admin/routing/queue/{queue.pk}/change/", queue_post(business_hours_id=9))
    assert Queue.objects.get(pk=queue.pk).business_hours_id == 7


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"offer_timeout_s": 1}, "Use 5 to 600 seconds."),
        ({"service_level_threshold_s": 0}, "Use at least one second."),
        ({"max_wait_s": 60}, "Choose the queue conversations overflow to."),
        ({"overflow_queue": "spare"}, "Give the wait after which conversations overflow."),
    ],
)
def test_queue_settings_that_cannot_work_are_refused(admin_client_role, fields, message):
    spare = QueueFactory(name="Spare")
    fields = {key: spare.pk if value == "spare" else value for key, value in fields.items()}
    response = admin_client_role.post("/admin/routing/queue/add/", queue_post(**fields))
    assert response.status_code == 200 and message in page_errors(response)
    assert not Queue.objects.filter(name="Billing").exists()


def test_a_queue_never_overflows_back_to_itself(admin_client_role):
    first = QueueFactory(name="First")
    second = QueueFactory(name="Second")
    Queue.objects.filter(pk=second.pk).update(overflow_queue=first, max_wait_s=60)
    for target in (first, second):
        data = queue_post(name="First", max_wait_s=60, overflow_queue=target.pk)
        response = admin_client_role.post(f"/admin/routing/queue/{first.pk}/change/", data)
        assert response.status_code == 200
        assert "would come back to this queue" in page_errors(response) or "never this queue" in page_errors(response)
    assert Queue.objects.get(pk=first.pk).overflow_queue is None


def agent_post(user, **fields) -> dict:
    data = {
        "user": user.pk,
        "status": "offline",
        "default_capacity": 3,
        "auto_away_after_missed": 3,
        "skill_levels-TOTAL_FORMS": 0,
        "skill_levels-INITIAL_FORMS": 0,
        "skill_levels-MIN_NUM_FORMS": 0,
        "skill_levels-MAX_NUM_FORMS": 1000,
    }
    data.update(fields)
    return data


def test_an_agent_gets_a_capacity_per_channel_and_skill_levels(admin_client_role):
    from routing.backends import channel_kinds

    user = UserFactory(username="ann", role=AGENT)
    queue = QueueFactory(name="Sales")
    skill = SkillFactory(name="chinese")
    boxes = {f"capacity_{kind}": "" for kind in channel_kinds()}
    boxes.update({"capacity_web": 4, "capacity_whatsapp": 0})
    data = agent_post(
        user,
        queues=[queue.pk],
        **boxes,
        **{"skill_levels-TOTAL_FORMS": 1, "skill_levels-0-skill": skill.pk, "skill_levels-0-level": 7},
    )
    response = admin_client_role.post("/admin/routing/agentprofile/add/", data)
    assert response.status_code == 302, page_errors(response)
    profile = AgentProfile.objects.get(user=user)
    assert profile.capacity == {"web": 4, "whatsapp": 0}
    assert [(s.skill.name, s.level) for s in profile.skill_levels.all()] == [("chinese", 7)]
    page = admin_client_role.get(f"/admin/routing/agentprofile/{profile.pk}/change/").content.decode()
    assert 'name="capacity_web" value="4"' in page and "WhatsApp" in page

    data.update({"skill_levels-0-level": 11, "capacity_web": 99, "default_capacity": 0})
    response = admin_client_role.post("/admin/routing/agentprofile/add/", {**data, "user": UserFactory().pk})
    errors = page_errors(response)
    assert "Use a level from 1 to 10." in errors and "Use 1 to 50 conversations." in errors
    assert "less than or equal to 50" in errors


def test_a_skill_name_is_one_word_of_a_list(admin_client_role):
    response = admin_client_role.post("/admin/routing/skill/add/", {"name": "billing, vip", "description": ""})
    assert "A skill name has no comma" in page_errors(response)


def test_a_team_is_supervised_by_staff_only(admin_client_role):
    boss = UserFactory(username="boss", role=SUPERVISOR)
    agent = UserFactory(username="agent-ann", role=AGENT)
    AgentProfileFactory(user=agent)
    queue = QueueFactory(name="Sales")
    form = admin_client_role.get("/admin/supervisor/team/add/").content.decode()
    assert "boss" in form and "agent-ann" not in form
    response = admin_client_role.post(
        "/admin/supervisor/team/add/", {"name": "Day shift", "supervisors": [agent.pk], "queues": [queue.pk]}
    )
    assert response.status_code == 200 and "Select a valid choice" in page_errors(response)
    response = admin_client_role.post(
        "/admin/supervisor/team/add/", {"name": "Day shift", "supervisors": [boss.pk], "queues": [queue.pk]}
    )
    assert response.status_code == 302
    team = Team.objects.get()
    assert list(team.supervisors.all()) == [boss] and list(team.queues.all()) == [queue]
    assert "boss" in admin_client_role.get("/admin/supervisor/team/").content.decode()
