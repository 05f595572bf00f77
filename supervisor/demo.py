"""Demo data for `manage.py seed_demo` (idempotent). Runs after routing.demo, which creates the queues,
and crm.demo, which creates the `supervisor` user: the demo supervisor's team watches the demo queues, so
their dashboard is not empty."""

from __future__ import annotations

from django.contrib.auth import get_user_model

from routing.models import Queue
from supervisor.models import Team

DEMO_TEAM = "Demo team"
DEMO_TEAM_QUEUES = ["Sales", "Support"]
DEMO_SUPERVISORS = ["supervisor"]


def seed(*, stdout=None) -> None:
    team, _ = Team.objects.get_or_create(name=DEMO_TEAM)
    team.queues.add(*Queue.objects.filter(name__in=DEMO_TEAM_QUEUES))
    team.supervisors.add(*get_user_model().objects.filter(username__in=DEMO_SUPERVISORS))
    if stdout:
        names = ", ".join(team.queues.order_by("name").values_list("name", flat=True))
        stdout.write(f"  team: {team.name} ({names}), supervised by {', '.join(DEMO_SUPERVISORS)}")
