"""The flow engine as pure functions over plain dicts: every step kind, hand-over from every step,
re-asking bad answers, FAQ inside a flow, out-of-hours messages, and customer text never evaluated."""

import pytest

from bots.engine import (
    LEAVE_MESSAGE,
    FlowError,
    capture_clean,
    flow_first_message,
    flow_reply,
    flow_start,
    flow_validate,
    is_handover_request,
    leave_message_offer,
    option_choose,
    step_successors,
)

FLOW = {
    "id": 1,
    "language": "en",
    "max_attempts": 3,
    "handover_words": ["agent", "human", "人工"],
    "texts": {"welcome": {"en": "Welcome!", "fr": "Bienvenue !"}},
    "faq": {
        "threshold": 70,
        "entries": [
            {
                "id": 7,
                "phrasings": ["What are your opening hours?", "When are you open?"],
                "keywords": ["hours"],
                "answer": {"en": "Mon-Fri 8-20.", "fr": "Du lundi au vendredi, 8h-20h."},
            }
        ],
    },
    "steps": [
        {"key": "greet", "kind": "message", "text": "Hi {name}!"},
        {
            "key": "menu",
            "kind": "question",
            "text": {"en": "Sales or Support?", "fr": "Ventes ou assistance ?"},
            "options": [
                {"label": {"en": "Sales", "fr": "Ventes"}, "value": "sales", "queue_id": 1, "skills": []},
                {
                    "label": {"en": "Support", "fr": "Assistance"},
                    "value": "support",
                    "queue_id": 2,
                    "skills": ["tech"],
                    "next": "email",
                },
            ],
        },
        {"key": "sales-bye", "kind": "handover", "text": "Our sales team is coming."},
        {"key": "email", "kind": "capture", "field": "email", "text": "Your e-mail, {name}?"},
        {"key": "order", "kind": "capture", "field": "order_number", "text": "Order number for {email}?"},
        {"key": "done", "kind": "handover"},
    ],
}
CTX = {"language": "en", "buttons": True, "values": {"name": "Ada"}}


def says(outcome):
    return [a["text"] for a in outcome.actions if a["type"] == "say"]


def kinds(outcome):
    return [a["type"] for a in outcome.actions]


def at_step(key, **extra):
    return {
        "step": key,
        "attempts": 0,
        "route": {"queue_id": None, "skills": []},
        "captured": {},
        "done": False,
        **extra,
    }


def test_start_says_welcome_runs_messages_and_stops_at_the_question_with_buttons():
    outcome = flow_start(FLOW, CTX)
    assert says(outcome) == ["Welcome!", "Hi Ada!", "Sales or Support?"]
    question = outcome.actions[-1]
    assert question["presentation"] == "buttons"
    assert question["options"] == [{"label": "Sales", "value": "sales"}, {"label": "Support", "value": "support"}]
    assert outcome.state["step"] == "menu"


def test_platforms_without_buttons_get_numbered_options_in_the_contacts_language():
    outcome = flow_start(FLOW, {**CTX, "buttons": False, "language": "fr"})
    question = outcome.actions[-1]
    assert question["presentation"] == "numbered"
    assert question["text"] == "Ventes ou assistance ?\n1. Ventes\n2. Assistance"
    assert says(outcome)[0] == "Bienvenue !"


@pytest.mark.parametrize("answer", ["2", "support", "Support", "suport", "Assistance", " SUPPORT! "])
def test_an_option_is_picked_by_number_value_label_translation_or_typo(answer):
    outcome = flow_reply(FLOW, at_step("menu"), answer, CTX)
    assert outcome.state["route"] == {"queue_id": 2, "skills": ["tech"]}
    assert outcome.state["step"] == "email"
    assert says(outcome) == ["Your e-mail, Ada?"]


def test_choosing_sales_hands_over_to_the_sales_queue_with_the_steps_text():
    outcome = flow_reply(FLOW, at_step("menu"), "1", CTX)
    assert says(outcome) == ["Our sales team is coming."]
    assert outcome.actions[-1] == {
        "type": "handover",
        "queue_id": 1,
        "skills": [],
        "reason": "step",
        "after_hours": False,
    }
    assert outcome.state["done"] is True


def test_a_bad_email_is_re_asked_then_a_good_one_is_captured_and_used():
    bad = flow_reply(FLOW, at_step("email"), "ada at example", CTX)
    assert bad.state["step"] == "email" and bad.state["attempts"] == 1
    assert kinds(bad) == ["say"] and "does not look like an e-mail" in says(bad)[0]

    good = flow_reply(FLOW, bad.state, "ada@example.com", CTX)
    assert good.actions[0] == {"type": "capture", "field": "email", "value": "ada@example.com"}
    assert good.state["captured"] == {"email": "ada@example.com"}
    assert says(good) == ["Order number for ada@example.com?"]
    assert good.state["step"] == "order" and good.state["attempts"] == 0


def test_the_last_capture_leads_to_the_final_hand_over_with_the_chosen_route():
    state = at_step("order", route={"queue_id": 2, "skills": ["tech"]})
    outcome = flow_reply(FLOW, state, "#ab-1234", CTX)
    assert outcome.actions[0] == {"type": "capture", "field": "order_number", "value": "AB-1234"}
    assert outcome.actions[-1]["type"] == "handover"
    assert outcome.actions[-1]["queue_id"] == 2 and outcome.actions[-1]["skills"] == ["tech"]


@pytest.mark.parametrize(
    ("field", "typed", "expected"),
    [
        ("email", "ada@example.com", "ada@example.com"),
        ("email", "ada@", None),
        ("email", "", None),
        ("phone", "+33 6 12-34-56.78", "+33612345678"),
        ("phone", "(555) 010-0001", "5550100001"),
        ("phone", "call me", None),
        ("phone", "123", None),
        ("name", "  Ada   Lovelace ", "Ada Lovelace"),
        ("name", "12345", None),
        ("name", "x" * 101, None),
        ("order_number", "ab-1234", "AB-1234"),
        ("order_number", "no", None),
        ("order_number", "DROP TABLE;", None),
    ],
)
def test_capture_validation(field, typed, expected):
    assert capture_clean(field, typed) == expected


def test_too_many_bad_answers_hand_over():
    state = at_step("email")
    for _ in range(2):
        outcome = flow_reply(FLOW, state, "nope", CTX)
        assert outcome.state["step"] == "email"
        state = outcome.state
    outcome = flow_reply(FLOW, state, "nope", CTX)
    assert outcome.actions[-1]["type"] == "handover" and outcome.actions[-1]["reason"] == "not_understood"


def test_a_wrong_option_is_re_asked_with_the_options():
    outcome = flow_reply(FLOW, at_step("menu"), "bananas", CTX)
    assert outcome.state["step"] == "menu" and outcome.state["attempts"] == 1
    assert outcome.actions[-1]["options"] == [
        {"label": "Sales", "value": "sales"},
        {"label": "Support", "value": "support"},
    ]
    assert outcome.actions[-1]["text"] == "Please choose one of the options."


@pytest.mark.parametrize("state", [at_step("menu"), at_step("email"), at_step("order"), at_step(None)])
@pytest.mark.parametrize("text", ["agent", "I want a HUMAN please", "人工", "转人工客服", "Talk to a person"])
def test_hand_over_words_work_at_every_step(state, text):
    state["route"] = {"queue_id": 2, "skills": ["tech"]}
    outcome = flow_reply(FLOW, state, text, CTX)
    handover = outcome.actions[-1]
    assert handover["type"] == "handover" and handover["reason"] == "asked"
    assert handover["queue_id"] == 2 and handover["skills"] == ["tech"]


def test_hand_over_words_are_whole_words():
    assert not is_handover_request(FLOW, "my agency account", CTX)
    assert not is_handover_request(FLOW, "humane treatment", CTX)


def test_the_leave_message_choice_hands_over_as_after_hours_or_ends():
    offer = leave_message_offer(
        FLOW, at_step(None), {**CTX, "values": {"next_open": "Monday 09:00"}}, queue_id=2, skills=["tech"]
    )
    assert offer.state["step"] == LEAVE_MESSAGE
    assert "We open again Monday 09:00" in says(offer)[0]
    assert [o["value"] for o in offer.actions[-1]["options"]] == ["leave", "no"]

    left = flow_reply(FLOW, offer.state, "Leave a message", CTX)
    assert left.actions[-1] == {
        "type": "handover",
        "queue_id": 2,
        "skills": ["tech"],
        "reason": "after_hours",
        "after_hours": True,
    }
    typed = flow_reply(FLOW, offer.state, "My parcel never came", CTX)
    assert typed.actions[-1]["after_hours"] is True
    asked = flow_reply(FLOW, offer.state, "agent", CTX)
    assert asked.actions[-1]["after_hours"] is True
    declined = flow_reply(FLOW, offer.state, "2", CTX)
    assert kinds(declined) == ["say", "end"]


def test_faq_answers_inside_a_question_then_asks_again_and_offers_a_person():
    outcome = flow_reply(FLOW, at_step("menu"), "opning hours?", CTX)
    assert outcome.actions[0] == {
        "type": "faq",
        "entry_id": 7,
        "score": outcome.actions[0]["score"],
        "query": "opning hours?",
    }
    answer = outcome.actions[1]
    assert answer["text"] == "Mon-Fri 8-20." and answer["options"] == [{"label": "Talk to a person", "value": "agent"}]
    assert outcome.actions[2]["text"] == "Sales or Support?"
    assert outcome.state["step"] == "menu" and outcome.state["attempts"] == 0


def test_faq_without_buttons_says_how_to_reach_a_person():
    outcome = flow_reply(FLOW, at_step(None), "when are you open", {**CTX, "buttons": False, "language": "fr"})
    assert says(outcome) == ["Du lundi au vendredi, 8h-20h.\nRépondez « conseiller » pour parler à une personne."]


def test_a_faq_miss_is_logged_and_answered_with_not_understood():
    outcome = flow_reply(FLOW, at_step(None), "my cat is orange", CTX)
    assert outcome.actions[0]["type"] == "faq" and outcome.actions[0]["entry_id"] is None
    assert says(outcome) == ['Sorry, I did not understand. Reply "agent" to talk to a person.']


def test_first_message_starts_the_flow_and_answers_a_question_already_asked():
    plain = flow_first_message(FLOW, "hello", CTX)
    assert says(plain) == ["Welcome!", "Hi Ada!", "Sales or Support?"]
    asked = flow_first_message(FLOW, "what are your opening hours", CTX)
    assert says(asked)[-2:] == ["Mon-Fri 8-20.", "Sales or Support?"]
    person = flow_first_message(FLOW, "human", CTX)
    assert person.actions[-1]["type"] == "handover"


def test_end_step_and_message_only_flows():
    flow = {"steps": [{"key": "a", "kind": "message", "text": "One"}, {"key": "b", "kind": "end", "text": "Bye"}]}
    outcome = flow_start(flow, CTX)
    assert says(outcome)[-2:] == ["One", "Bye"] and kinds(outcome)[-1] == "end"
    assert outcome.state["done"] is True


def test_a_loop_of_messages_hands_over_instead_of_spinning():
    flow = {
        "steps": [
            {"key": "a", "kind": "message", "text": "A", "next": "b"},
            {"key": "b", "kind": "message", "text": "B", "next": "a"},
        ]
    }
    outcome = flow_start(flow, CTX)
    assert outcome.actions[-1]["type"] == "handover" and outcome.actions[-1]["reason"] == "loop"


@pytest.mark.parametrize("typed", ["{{ settings.SECRET_KEY }}", "{0.__class__}", "{name}", "{% load x %}{{ request }}"])
def test_customer_text_is_never_evaluated(typed):
    # As a captured value re-used in a later text...
    flow = {
        "steps": [
            {"key": "n", "kind": "capture", "field": "order_number", "text": "Order?"},
            {"key": "m", "kind": "message", "text": "Order {order_number} for {name} noted."},
        ]
    }
    outcome = flow_reply(flow, at_step("n"), "AB-1234", {**CTX, "values": {"name": typed}})
    assert says(outcome) == [f"Order AB-1234 for {typed} noted."]
    # ...and as an answer the bot does not understand.
    missed = flow_reply(FLOW, at_step(None), typed, CTX)
    assert all("SECRET" not in text or text == typed for text in says(missed))
    assert "test-secret-key" not in " ".join(says(missed))


def test_option_choose_refuses_ties_and_out_of_range_numbers():
    options = [{"label": "Sale"}, {"label": "Sales"}]
    assert option_choose(options, "3") is None
    assert option_choose(options, "Sales") == 1
    assert option_choose([{"label": "abcd"}, {"label": "abce"}], "abcf") is None


@pytest.mark.parametrize(
    ("steps", "message"),
    [
        ([{"key": "a", "kind": "message", "text": "x"}, {"key": "a", "kind": "end"}], "share the key"),
        ([{"key": "a", "kind": "question", "text": "x", "options": []}], "at least one option"),
        ([{"key": "a", "kind": "capture", "text": "x", "field": "age"}], "capture into"),
        ([{"key": "a", "kind": "message", "text": "x", "next": "zzz"}], "does not exist"),
        ([{"key": "a", "kind": "message", "text": ""}], "write the text"),
        ([{"key": "a", "kind": "dance"}], "unknown kind"),
    ],
)
def test_flow_validate_names_the_problem(steps, message):
    with pytest.raises(FlowError, match=message):
        flow_validate({"steps": steps})


@pytest.mark.parametrize(
    ("steps", "message"),
    [
        # A step nothing leads to: the question's only option jumps past it.
        (
            [
                {"key": "q", "kind": "question", "text": "x", "options": [{"label": "A", "next": "end"}]},
                {"key": "lost", "kind": "message", "text": "never said"},
                {"key": "end", "kind": "end"},
            ],
            "Step 'lost' is never reached",
        ),
        # Two messages pointing at each other: the engine would only stop at MAX_STEPS_PER_TURN.
        (
            [
                {"key": "a", "kind": "message", "text": "x", "next": "b"},
                {"key": "b", "kind": "message", "text": "y", "next": "a"},
            ],
            "loops without an exit",
        ),
        # A question whose every option comes back to it through a capture.
        (
            [
                {"key": "q", "kind": "question", "text": "x", "options": [{"label": "A", "next": "c"}]},
                {"key": "c", "kind": "capture", "text": "mail?", "field": "email", "next": "q"},
                {"key": "h", "kind": "handover"},
            ],
            "never reached",
        ),
    ],
)
def test_flow_validate_refuses_unreachable_steps_and_endless_loops(steps, message):
    with pytest.raises(FlowError, match=message):
        flow_validate({"steps": steps})


def test_a_loop_with_a_way_out_and_running_past_the_last_step_both_end():
    looping = [
        {"key": "m", "kind": "message", "text": "once more"},
        {"key": "q", "kind": "question", "text": "x", "options": [{"label": "Again", "next": "m"}, {"label": "Bye"}]},
    ]
    flow_validate({"steps": looping})  # "Bye" runs past the last step: the bot answers from the FAQ
    assert step_successors({"steps": looping}, looping[0]) == ["q"]
    assert step_successors({"steps": looping}, looping[1]) == ["m", None]
    flow_validate({"steps": [{"key": "h", "kind": "handover"}]})
    flow_validate({"steps": []})
