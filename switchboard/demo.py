"""The demo as a whole: each app's own `demo` module, in the order their data depends on each other.

Each app keeps its demo data beside its models (`<app>/demo.py`: `seed(stdout=)`, and `describe(base=)`
where it has something to print); this module only puts them in order, for `manage.py seed_demo` and
`manage.py describe_urls`. The project app sits above every app, so it imports them directly.
"""

from __future__ import annotations

from types import ModuleType

from bots import demo as bots_demo
from crm import demo as crm_demo
from imsubsystem import demo as imsubsystem_demo
from routing import demo as routing_demo
from supervisor import demo as supervisor_demo

# crm creates the users; routing the queues; the switch the inboxes and canned responses; the bots their
# flows on those inboxes and queues; supervision the team that watches the queues.
DEMO_STEPS: tuple[ModuleType, ...] = (crm_demo, routing_demo, imsubsystem_demo, bots_demo, supervisor_demo)


def demo_descriptions(*, base: str) -> list[str]:
    """What `make run` prints after the pages: the demo logins, each demo inbox's page or webhook URL
    and its demo secrets, which widget demo shows which bot path."""
    lines: list[str] = []
    for step in DEMO_STEPS:
        describe = getattr(step, "describe", None)
        if describe is not None:
            lines.extend(describe(base=base))
    return lines
