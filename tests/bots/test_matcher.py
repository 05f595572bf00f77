"""FAQ matching (bots/matcher.py): typos, word order, other languages, and no answer for unrelated text."""

import pytest

from bots.matcher import faq_match

ENTRIES = [
    {
        "id": 1,
        "phrasings": ["What are your opening hours?", "When are you open?", "horaires d'ouverture"],
        "keywords": ["hours", "open"],
    },
    {
        "id": 2,
        "phrasings": ["How long does delivery take?", "When will my order arrive?", "shipping time"],
        "keywords": ["delivery", "shipping"],
    },
    {
        "id": 3,
        "phrasings": ["How do I return an item?", "Can I get a refund?", "return policy"],
        "keywords": ["return", "refund"],
    },
]


@pytest.mark.parametrize(
    ("text", "entry_id"),
    [
        ("What are your opening hours?", 1),
        ("opning hours", 1),  # typo
        ("hours opening your what are", 1),  # word order
        ("when r u open", 1),
        ("Quels sont vos horaires d'ouverture ?", 1),
        ("how long delivery takes", 2),
        ("delivry time", 2),  # typo
        ("how long will it take", 2),
        ("retrun policy", 3),  # typo
        ("refund please", 3),
        ("policy return", 3),  # word order
    ],
)
def test_matches_despite_typos_and_word_order(text, entry_id):
    match = faq_match(text, ENTRIES, threshold=70)
    assert match.entry_id == entry_id, match


@pytest.mark.parametrize(
    "text", ["I want to talk about my cat", "hello", "what is the weather", "Can I speak to someone about my invoice"]
)
def test_unrelated_text_gets_no_answer(text):
    match = faq_match(text, ENTRIES, threshold=70)
    assert match.entry_id is None
    assert match.score < 70


def test_the_threshold_decides():
    near = faq_match("delivry time", ENTRIES, threshold=70)
    assert near.matched
    assert not faq_match("delivry time", ENTRIES, threshold=near.score + 1).matched


def test_empty_inputs():
    assert not faq_match("", ENTRIES, threshold=70).matched
    assert not faq_match("opening hours", [], threshold=70).matched
