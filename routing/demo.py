"""Demo data for `manage.py seed_demo` (idempotent). Runs after crm.demo, which creates the users."""

from __future__ import annotations

from django.contrib.auth import get_user_model

from routing.models import AgentProfile, AgentSkill, Queue, RoutingPolicy, Skill

DEMO_SKILLS = [
    ("billing", "Invoices, refunds, payments"),
    ("technical", "Product problems"),
    ("french", "Speaks French"),
]
DEMO_AGENT_SKILLS = {"agent1": ["billing"], "agent2": ["technical", "french"], "agent3": ["billing", "technical"]}


def seed(*, stdout=None) -> None:
    skills = {name: Skill.objects.get_or_create(name=name, defaults={"description": d})[0] for name, d in DEMO_SKILLS}
    support = Queue.objects.get_or_create(name="Support", defaults={"policy": RoutingPolicy.LEAST_BUSY})[0]
    sales = Queue.objects.get_or_create(
        name="Sales", defaults={"policy": RoutingPolicy.LEAST_BUSY, "max_wait_s": 300, "overflow_queue": support}
    )[0]
    users = get_user_model().objects.filter(username__in=DEMO_AGENT_SKILLS)
    for user in users:
        profile, created = AgentProfile.objects.get_or_create(user=user, defaults={"default_capacity": 3})
        if created:
            profile.queues.set([sales, support])
        for name in DEMO_AGENT_SKILLS[user.username]:
            AgentSkill.objects.get_or_create(agent=profile, skill=skills[name])
    if stdout:
        stdout.write(f"  queues: {sales.name}, {support.name}; agent profiles: {', '.join(u.username for u in users)}")
