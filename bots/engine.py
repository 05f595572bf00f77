"""The flow engine: pure functions from (flow, state, customer text) to (new state, actions).

No database, no switch, no clock: bots/turn.py reads the flow into a plain dict (selectors.flow_spec),
calls these functions and carries out the actions through the switch. That keeps every branch testable
with plain dicts (tests/bots/test_engine.py).

One module at a little over 400 lines: it is one state machine, and its parts (reading the flow, texts,
matching answers, running) call each other both ways (the matchers read flow texts and raise FlowError,
the runner calls the matchers), so a split would only cut a cycle in two.

A flow is
    {"id", "language", "max_attempts", "handover_words": [...], "texts": {key: translations},
     "faq": {"threshold", "entries": [{"id", "phrasings", "keywords", "answer"}]},
     "steps": [{"key", "kind", "text", "next", "options", "field", "invalid_text", "queue_id", "skills"}]}
Step kinds: message, question (options, each {"label", "value", "next", "queue_id", "skills"}), capture
(field: name | email | phone | order_number), handover (optional queue_id / skills), end.

The context of a turn is {"language": the conversation's language, "inbox_language": its inbox's default,
"buttons": bool, "values": {placeholder: value}}; texts fall back from the one to the other (_pick).

The state (stored per conversation in BotSession.state) is
    {"step": key waiting for an answer | LEAVE_MESSAGE | None, "attempts": n,
     "route": {"queue_id", "skills"}, "captured": {field: value}, "done": bool}

Actions, in order:
    {"type": "say", "text", "options": [{"label", "value"}], "presentation": "buttons" | "numbered" | "none"}
    {"type": "capture", "field", "value"}
    {"type": "faq", "entry_id" | None, "score", "query"}          (to log matches and misses)
    {"type": "handover", "queue_id", "skills", "reason", "after_hours": bool}
    {"type": "end"}
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext
from rapidfuzz import fuzz

from bots import texts as T
from bots.matcher import faq_match, normalize

STEP_KINDS = ("message", "question", "capture", "handover", "end")
CAPTURE_FIELDS = ("name", "email", "phone", "order_number")
LEAVE_MESSAGE = "__leave_message"
# A loop of message steps pointing at each other must not spin forever.
MAX_STEPS_PER_TURN = 50
# An answer this close to an option's label picks it (typos: "suport" -> "Support").
OPTION_MATCH = 85


@dataclass
class Outcome:
    state: dict[str, Any]
    actions: list[dict[str, Any]] = field(default_factory=list)

    def say(self, text: str, options: Sequence[Mapping] = (), *, buttons: bool = True) -> None:
        labels = [{"label": o["label"], "value": o["value"]} for o in options]
        if not labels:
            self.actions.append({"type": "say", "text": text, "options": [], "presentation": "none"})
        elif buttons:
            self.actions.append({"type": "say", "text": text, "options": labels, "presentation": "buttons"})
        else:
            numbered = "\n".join(f"{n}. {o['label']}" for n, o in enumerate(labels, start=1))
            self.actions.append(
                {"type": "say", "text": f"{text}\n{numbered}", "options": labels, "presentation": "numbered"}
            )


class FlowError(ValueError):
    """A flow that cannot run: a step pointing at a missing step, a question without options..."""


# --- Reading the flow ---------------------------------------------------------------------------------
def state_initial() -> dict[str, Any]:
    return {"step": None, "attempts": 0, "route": {"queue_id": None, "skills": []}, "captured": {}, "done": False}


def _steps_by_key(flow: Mapping) -> dict[str, dict]:
    return {step["key"]: step for step in flow.get("steps") or ()}


def _following(flow: Mapping, key: str) -> str | None:
    keys = [step["key"] for step in flow.get("steps") or ()]
    index = keys.index(key)
    return keys[index + 1] if index + 1 < len(keys) else None


def _next_key(flow: Mapping, step: Mapping, chosen: Mapping | None = None) -> str | None:
    if chosen and chosen.get("next"):
        return chosen["next"]
    if step.get("next"):
        return step["next"]
    return _following(flow, step["key"])


def flow_validate(flow: Mapping) -> None:
    """Raise FlowError naming the first thing that would stop the flow from running."""
    keys = [step.get("key") for step in flow.get("steps") or ()]
    seen: set[str] = set()
    for key in keys:
        if not key:
            raise FlowError(gettext("Every step needs a key."))
        if key in seen:
            raise FlowError(gettext("Two steps share the key %(key)s.") % {"key": repr(key)})
        seen.add(key)
    for step in flow.get("steps") or ():
        where = gettext("Step %(key)s") % {"key": repr(step["key"])}
        if step.get("kind") not in STEP_KINDS:
            raise FlowError(
                gettext("%(step)s: unknown kind %(kind)s.") % {"step": where, "kind": repr(step.get("kind"))}
            )
        if step.get("next") and step["next"] not in seen:
            raise FlowError(
                gettext("%(step)s: next step %(next)s does not exist.") % {"step": where, "next": repr(step["next"])}
            )
        if step["kind"] == "question":
            options = step.get("options") or []
            if not options:
                raise FlowError(gettext("%(step)s: a question needs at least one option.") % {"step": where})
            for option in options:
                if not option.get("label"):
                    raise FlowError(gettext("%(step)s: every option needs a label.") % {"step": where})
                if option.get("next") and option["next"] not in seen:
                    raise FlowError(
                        gettext("%(step)s: option next step %(next)s does not exist.")
                        % {"step": where, "next": repr(option["next"])}
                    )
        if step["kind"] == "capture" and step.get("field") not in CAPTURE_FIELDS:
            raise FlowError(
                gettext("%(step)s: capture into one of %(fields)s.")
                % {"step": where, "fields": ", ".join(CAPTURE_FIELDS)}
            )
        if step["kind"] in ("question", "capture", "message") and not T.text_pick(step.get("text"), None):
            raise FlowError(gettext("%(step)s: write the text the customer sees.") % {"step": where})
    _paths_check(flow)


def step_successors(flow: Mapping, step: Mapping) -> list[str | None]:
    """Where a step can lead, as _run_from and flow_reply move on: a hand-over and an end lead nowhere; a
    question to each option's step; anything else to its next step. None: past the last step, where the
    bot answers from the FAQ (an ending too, docs/bots.md)."""
    if step["kind"] in ("handover", "end"):
        return []
    if step["kind"] == "question":
        return [_next_key(flow, step, option) for option in step.get("options") or ()]
    return [_next_key(flow, step)]


def _paths_check(flow: Mapping) -> None:
    """Every step is reached from the first one, and every step reached can still end (a hand-over, an
    end, or past the last step): no branch is left without an exit."""
    steps = list(flow.get("steps") or ())
    if not steps:
        return
    by_key = _steps_by_key(flow)
    successors = {step["key"]: step_successors(flow, step) for step in steps}
    reached, pending = set(), [steps[0]["key"]]
    while pending:
        key = pending.pop()
        if key in reached:
            continue
        reached.add(key)
        pending.extend(k for k in successors[key] if k is not None and k not in reached)
    for step in steps:
        if step["key"] not in reached:
            raise FlowError(
                gettext("Step %(key)s is never reached: no step or option leads to it.") % {"key": repr(step["key"])}
            )
    ends = {key for key, following in successors.items() if by_key[key]["kind"] in ("handover", "end")}
    ends |= {key for key, following in successors.items() if None in following}
    changed = True
    while changed:
        changed = False
        for key, following in successors.items():
            if key not in ends and any(k in ends for k in following):
                ends.add(key)
                changed = True
    for step in steps:
        if step["key"] not in ends:
            raise FlowError(
                gettext(
                    "Step %(key)s loops without an exit: no path from it reaches a hand-over, an end or the last step."
                )
                % {"key": repr(step["key"])}
            )


# --- Texts ---------------------------------------------------------------------------------------------
def flow_text(flow: Mapping, key: str, ctx: Mapping) -> str:
    """A flow-level text (welcome, handover...) in the conversation's language, placeholders filled."""
    chosen = (flow.get("texts") or {}).get(key) or T.DEFAULT_TEXTS[key]
    return T.text_render(_pick(flow, chosen, ctx), ctx.get("values"))


def _pick(flow: Mapping, translations: Any, ctx: Mapping) -> str:
    """The customer's language, else the inbox's default language, else the flow's, English, the first."""
    return T.text_pick(translations, ctx.get("language"), ctx.get("inbox_language"), flow.get("language") or "en")


def _step_text(flow: Mapping, translations: Any, ctx: Mapping) -> str:
    return T.text_render(_pick(flow, translations, ctx), ctx.get("values"))


def options_labelled(flow: Mapping, options: Sequence[Mapping], ctx: Mapping) -> list[dict]:
    labelled = []
    for index, option in enumerate(options, start=1):
        label = _step_text(flow, option.get("label"), ctx)
        labelled.append({**option, "label": label, "value": str(option.get("value") or index)})
    return labelled


# --- Matching answers -------------------------------------------------------------------------------------
def is_handover_request(flow: Mapping, text: str, ctx: Mapping) -> bool:
    """True when the text asks for a person: one of the hand-over words as a whole word (or anywhere, for
    words in scripts without spaces), or the "talk to a person" label itself."""
    cleaned = normalize(text)
    if not cleaned:
        return False
    words = cleaned.split()
    for word in flow.get("handover_words") or T.DEFAULT_HANDOVER_WORDS:
        target = normalize(word)
        if not target:
            continue
        if target.isascii():
            if target in words or (" " in target and re.search(rf"\b{re.escape(target)}\b", cleaned)):
                return True
        elif target in cleaned:
            return True
    person = normalize(flow_text(flow, "talk_to_person", ctx))
    return cleaned == person


def _all_labels(option: Mapping) -> list[str]:
    label = option.get("label")
    if isinstance(label, Mapping):
        return [str(v) for v in label.values() if v]
    return [str(label)] if label else []


def option_choose(options: Sequence[Mapping], text: str) -> int | None:
    """The index of the option the text picks: its number, its value, its label in any language, or a
    label within a typo; None if nothing fits or two options fit equally."""
    cleaned = normalize(text)
    if not cleaned:
        return None
    if cleaned.isdigit():
        number = int(cleaned)
        return number - 1 if 1 <= number <= len(options) else None
    for index, option in enumerate(options):
        names = [normalize(str(option.get("value") or ""))] + [normalize(label) for label in _all_labels(option)]
        if cleaned in names:
            return index
    scored = []
    for index, option in enumerate(options):
        best = max((fuzz.ratio(cleaned, normalize(label)) for label in _all_labels(option)), default=0)
        scored.append((best, index))
    scored.sort(reverse=True)
    if scored and scored[0][0] >= OPTION_MATCH and (len(scored) == 1 or scored[1][0] < scored[0][0]):
        return scored[0][1]
    return None


def capture_clean(field_name: str, text: str) -> str | None:
    """The cleaned value for a contact field, or None when the text is not a valid one."""
    value = (text or "").strip()
    if field_name == "email":
        try:
            validate_email(value)
        except ValidationError:
            return None
        return value if len(value) <= 254 else None
    if field_name == "phone":
        compact = re.sub(r"[\s().-]", "", value)
        return compact if re.fullmatch(r"\+?\d{7,15}", compact) else None
    if field_name == "name":
        value = " ".join(value.split())
        if not 1 <= len(value) <= 100 or not any(ch.isalpha() for ch in value) or any(ch.isdigit() for ch in value):
            return None
        return value
    if field_name == "order_number":
        compact = value.replace(" ", "").lstrip("#")
        return compact.upper() if re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9-]{2,31}", compact) else None
    raise FlowError(f"Unknown capture field {field_name!r}.")


# --- Running ---------------------------------------------------------------------------------------------
def _handover(outcome: Outcome, flow: Mapping, ctx: Mapping, *, reason: str, step: Mapping | None = None) -> Outcome:
    route = outcome.state["route"]
    queue_id = (step or {}).get("queue_id") or route.get("queue_id")
    skills = list((step or {}).get("skills") or route.get("skills") or [])
    say = _step_text(flow, step.get("text"), ctx) if step and step.get("text") else flow_text(flow, "handover", ctx)
    if say:
        outcome.say(say)
    outcome.actions.append(
        {"type": "handover", "queue_id": queue_id, "skills": skills, "reason": reason, "after_hours": False}
    )
    outcome.state.update(step=None, done=True, attempts=0)
    return outcome


def _run_from(outcome: Outcome, flow: Mapping, key: str | None, ctx: Mapping) -> Outcome:
    steps = _steps_by_key(flow)
    for _ in range(MAX_STEPS_PER_TURN):
        if key is None:
            outcome.state.update(step=None, attempts=0)
            return outcome
        step = steps.get(key)
        if step is None:
            raise FlowError(f"No step {key!r}.")
        kind = step["kind"]
        if kind == "message":
            outcome.say(_step_text(flow, step.get("text"), ctx))
            key = _next_key(flow, step)
        elif kind == "question":
            outcome.say(
                _step_text(flow, step.get("text"), ctx),
                options_labelled(flow, step["options"], ctx),
                buttons=bool(ctx.get("buttons")),
            )
            outcome.state.update(step=key, attempts=0)
            return outcome
        elif kind == "capture":
            outcome.say(_step_text(flow, step.get("text"), ctx))
            outcome.state.update(step=key, attempts=0)
            return outcome
        elif kind == "handover":
            return _handover(outcome, flow, ctx, reason="step", step=step)
        else:  # end
            text = _step_text(flow, step.get("text"), ctx) if step.get("text") else flow_text(flow, "goodbye", ctx)
            if text:
                outcome.say(text)
            outcome.actions.append({"type": "end"})
            outcome.state.update(step=None, done=True, attempts=0)
            return outcome
    return _handover(outcome, flow, ctx, reason="loop")


def flow_start(flow: Mapping, ctx: Mapping) -> Outcome:
    """A new conversation: the welcome text, then the steps up to the first one that waits for an answer."""
    outcome = Outcome(state_initial())
    welcome = flow_text(flow, "welcome", ctx)
    if welcome:
        outcome.say(welcome)
    if ctx.get("closed_notice"):
        outcome.say(ctx["closed_notice"])
    steps = flow.get("steps") or ()
    return _run_from(outcome, flow, steps[0]["key"] if steps else None, ctx)


def flow_first_message(flow: Mapping, text: str, ctx: Mapping) -> Outcome:
    """The first message of a conversation: start the flow, and if that first message already asks for a
    person or an FAQ answer, answer it too (a plain "hello" just starts the flow)."""
    outcome = flow_start(flow, ctx)
    if outcome.state.get("done"):
        return outcome
    faq = flow.get("faq") or {}
    wants_person = is_handover_request(flow, text, ctx)
    asks_faq = (
        bool(faq.get("entries"))
        and faq_match(text, faq["entries"], threshold=float(faq.get("threshold") or 70)).matched
    )
    if not (wants_person or asks_faq):
        return outcome
    following = flow_reply(flow, outcome.state, text, ctx)
    return Outcome(following.state, outcome.actions + following.actions)


def _faq_try(outcome: Outcome, flow: Mapping, text: str, ctx: Mapping) -> bool:
    faq = flow.get("faq") or {}
    entries = faq.get("entries") or ()
    if not entries:
        return False
    match = faq_match(text, entries, threshold=float(faq.get("threshold") or 70))
    outcome.actions.append({"type": "faq", "entry_id": match.entry_id, "score": match.score, "query": text})
    if not match.matched:
        return False
    entry = next(e for e in entries if e["id"] == match.entry_id)
    person = {"label": flow_text(flow, "talk_to_person", ctx), "value": "agent"}
    answer = _step_text(flow, entry.get("answer"), ctx)
    if ctx.get("buttons"):
        outcome.say(answer, [person], buttons=True)
    else:
        outcome.say(f"{answer}\n{flow_text(flow, 'talk_to_person_hint', ctx)}")
    return True


def _too_many(outcome: Outcome, flow: Mapping) -> bool:
    outcome.state["attempts"] = int(outcome.state.get("attempts") or 0) + 1
    return outcome.state["attempts"] >= int(flow.get("max_attempts") or 3)


def flow_reply(flow: Mapping, state: Mapping, text: str, ctx: Mapping) -> Outcome:
    """The customer wrote `text` while the bot holds the conversation."""
    outcome = Outcome(copy.deepcopy(dict(state)) if state else state_initial())
    current = outcome.state.get("step")

    if current == LEAVE_MESSAGE:
        return _leave_message_reply(outcome, flow, text, ctx)
    if is_handover_request(flow, text, ctx):
        return _handover(outcome, flow, ctx, reason="asked")

    step = _steps_by_key(flow).get(current) if current else None
    if step is None:
        # Nothing is waiting for an answer: free text goes to the FAQ.
        if _faq_try(outcome, flow, text, ctx):
            outcome.state["attempts"] = 0
            return outcome
        if _too_many(outcome, flow):
            return _handover(outcome, flow, ctx, reason="not_understood")
        outcome.say(flow_text(flow, "not_understood", ctx))
        return outcome

    if step["kind"] == "question":
        options = options_labelled(flow, step["options"], ctx)
        chosen_index = option_choose(step["options"], text)
        if chosen_index is not None:
            chosen = step["options"][chosen_index]
            route = outcome.state["route"]
            if chosen.get("queue_id"):
                route["queue_id"] = chosen["queue_id"]
            if chosen.get("skills"):
                route["skills"] = list(chosen["skills"])
            return _run_from(outcome, flow, _next_key(flow, step, chosen), ctx)
        if _faq_try(outcome, flow, text, ctx):
            outcome.say(_step_text(flow, step.get("text"), ctx), options, buttons=bool(ctx.get("buttons")))
            return outcome
        if _too_many(outcome, flow):
            return _handover(outcome, flow, ctx, reason="not_understood")
        invalid = _step_text(flow, step.get("invalid_text"), ctx) or flow_text(flow, "invalid_option", ctx)
        outcome.say(invalid, options, buttons=bool(ctx.get("buttons")))
        return outcome

    if step["kind"] == "capture":
        value = capture_clean(step["field"], text)
        if value is not None:
            outcome.actions.append({"type": "capture", "field": step["field"], "value": value})
            outcome.state["captured"][step["field"]] = value
            ctx = {**ctx, "values": {**(ctx.get("values") or {}), step["field"]: value}}
            return _run_from(outcome, flow, _next_key(flow, step), ctx)
        if _too_many(outcome, flow):
            return _handover(outcome, flow, ctx, reason="not_understood")
        invalid = _step_text(flow, step.get("invalid_text"), ctx) or flow_text(flow, f"invalid_{step['field']}", ctx)
        outcome.say(invalid)
        return outcome

    # A stored state pointing at a step that no longer waits (the flow was edited): carry on from it.
    return _run_from(outcome, flow, step["key"], ctx)


# --- Out of hours ---------------------------------------------------------------------------------------------
def leave_message_offer(
    flow: Mapping, state: Mapping, ctx: Mapping, *, queue_id: int | None, skills: Sequence[str]
) -> Outcome:
    """The hand-over found the queue closed: say when it opens and offer to leave a message."""
    outcome = Outcome(copy.deepcopy(dict(state)) if state else state_initial())
    outcome.state["route"] = {"queue_id": queue_id, "skills": list(skills)}
    outcome.state.update(step=LEAVE_MESSAGE, done=False, attempts=0)
    options = [
        {"label": flow_text(flow, "leave_message_option", ctx), "value": "leave"},
        {"label": flow_text(flow, "no_thanks_option", ctx), "value": "no"},
    ]
    outcome.say(flow_text(flow, "out_of_hours", ctx), options, buttons=bool(ctx.get("buttons")))
    return outcome


def _leave_message_reply(outcome: Outcome, flow: Mapping, text: str, ctx: Mapping) -> Outcome:
    no_thanks = {"label": flow_text(flow, "no_thanks_option", ctx), "value": "no"}
    leave = {"label": flow_text(flow, "leave_message_option", ctx), "value": "leave"}
    chosen = option_choose([leave, no_thanks], text)
    if chosen == 1:
        outcome.say(flow_text(flow, "goodbye", ctx))
        outcome.actions.append({"type": "end"})
        outcome.state.update(step=None, done=True)
        return outcome
    # Anything else, including a message typed straight away, is the message they leave.
    route = outcome.state["route"]
    outcome.say(flow_text(flow, "message_left", ctx))
    outcome.actions.append(
        {
            "type": "handover",
            "queue_id": route.get("queue_id"),
            "skills": list(route.get("skills") or []),
            "reason": "after_hours",
            "after_hours": True,
        }
    )
    outcome.state.update(step=None, done=True)
    return outcome
