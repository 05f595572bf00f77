"""A flow as the customer would see it, for the admin: the engine itself walked along every branch.

The walk starts the flow (bots.engine.flow_start), then at each question answers with every option in
turn (as a click on its button sends its label), at each capture with a sample value that passes the
field's check, and follows the engine's state until the branch hands over, ends, leaves the steps (the
bot answers from the FAQ then) or comes back to a step it already asked in that branch.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.utils.translation import gettext

from bots import engine

# Answers a capture accepts (bots.engine.capture_clean), also the placeholders' values in the preview.
SAMPLES = {"name": "Ada Lovelace", "email": "ada@example.com", "phone": "+33 1 23 45 67 89", "order_number": "AB-1234"}
SAMPLE_VALUES = {**SAMPLES, "queue": "Sales", "position": "2", "eta": "3 min", "agent": "Alice", "inbox": "Web"}
# The most branches shown: a flow with many questions has as many paths as the product of their options.
MAX_BRANCHES = 30


def _lines(actions: list[dict], queue_names: Mapping[int, str]) -> list[dict[str, Any]]:
    lines = []
    for action in actions:
        if action["type"] == "say":
            shown = action["options"] if action["presentation"] == "buttons" else []
            lines.append({"who": "bot", "text": action["text"], "buttons": [o["label"] for o in shown]})
        elif action["type"] == "capture":
            lines.append(
                {
                    "who": "event",
                    "text": gettext("Saved on the contact: %(field)s = %(value)s")
                    % {"field": action["field"], "value": action["value"]},
                }
            )
        elif action["type"] == "handover":
            queue = queue_names.get(action["queue_id"]) if action["queue_id"] else None
            text = gettext("Handed over to a person in %(queue)s.") % {
                "queue": queue or gettext("the inbox's default queue")
            }
            if action["skills"]:
                text += " " + gettext("Skills: %(skills)s.") % {"skills": ", ".join(action["skills"])}
            lines.append({"who": "event", "text": text})
        elif action["type"] == "end":
            lines.append({"who": "event", "text": gettext("The conversation closes.")})
    return lines


def flow_branches(
    flow: Mapping,
    *,
    language: str,
    inbox_language: str = "",
    buttons: bool = True,
    queue_names: Mapping[int, str] | None = None,
) -> list[list[dict[str, Any]]]:
    """Each branch of the flow as lines {"who": "bot" | "customer" | "event", "text", "buttons"}."""
    queue_names = queue_names or {}
    # The preview shows the steps: the FAQ, answered by the matcher, is tried in its own box.
    flow = {**flow, "faq": {"threshold": 100, "entries": []}}
    ctx = {"language": language, "inbox_language": inbox_language, "buttons": buttons, "values": SAMPLE_VALUES}
    by_key = {step["key"]: step for step in flow.get("steps") or ()}
    branches: list[list[dict[str, Any]]] = []

    def walk(lines: list[dict], outcome: engine.Outcome, asked: frozenset[str]) -> None:
        if len(branches) >= MAX_BRANCHES:
            return
        lines = lines + _lines(outcome.actions, queue_names)
        state = outcome.state
        key = state.get("step")
        if state.get("done"):
            branches.append(lines)
            return
        if key is None:
            lines.append({"who": "event", "text": gettext("No more steps: the bot answers from the FAQ.")})
            branches.append(lines)
            return
        if key in asked:
            lines.append({"who": "event", "text": gettext("Back to step %(key)s.") % {"key": key}})
            branches.append(lines)
            return
        step = by_key[key]
        if step["kind"] == "question":
            for option in engine.options_labelled(flow, step["options"], ctx):
                reply = option["label"] or option["value"]
                answered = engine.flow_reply(flow, state, reply, ctx)
                walk([*lines, {"who": "customer", "text": reply}], answered, asked | {key})
        else:
            reply = SAMPLES.get(step.get("field") or "", "…")
            answered = engine.flow_reply(flow, state, reply, ctx)
            walk([*lines, {"who": "customer", "text": reply}], answered, asked | {key})

    walk([], engine.flow_start(flow, ctx), frozenset())
    return branches
