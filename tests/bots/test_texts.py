"""Translations with fallback, and placeholders that never evaluate what a customer typed."""

import pytest

from bots.texts import eta_describe, text_pick, text_render, translations_validate

GREETING = {"en": "Hello", "fr": "Bonjour", "zh-Hans": "你好"}


@pytest.mark.parametrize(
    ("language", "expected"),
    [("fr", "Bonjour"), ("fr-CA", "Bonjour"), ("zh-Hans-CN", "你好"), ("de", "Hello"), ("", "Hello"), (None, "Hello")],
)
def test_translation_falls_back_to_the_base_language_then_the_flow_language(language, expected):
    assert text_pick(GREETING, language) == expected


def test_flow_language_and_any_translation_are_the_last_fallbacks():
    assert text_pick({"fr": "Bonjour", "de": "Hallo"}, "es", "de") == "Hallo"
    assert text_pick({"fr": "Bonjour"}, "es") == "Bonjour"
    assert text_pick("Plain", "fr") == "Plain"


@pytest.mark.parametrize(
    "typed",
    [
        "{{ settings.SECRET_KEY }}",
        "{0.__class__}",
        "{name}",
        "{position.__class__.__mro__}",
        "{% debug %}",
        "%(name)s",
        "${7*7}",
    ],
)
def test_customer_values_come_back_as_typed(typed):
    rendered = text_render("Thanks {name}, you are number {position}.", {"name": typed, "position": 2})
    assert rendered == f"Thanks {typed}, you are number 2."


def test_only_known_placeholders_are_filled():
    assert text_render("{name} {unknown} {0} {name.upper}", {"name": "Ada", "unknown": "x"}) == (
        "Ada {unknown} {0} {name.upper}"
    )


def test_translations_are_validated():
    translations_validate({"en": "Hi", "zh-Hans": "你好"})
    for bad in (["Hi"], {"english": "Hi"}, {"en": 3}):
        with pytest.raises(ValueError):
            translations_validate(bad)


def test_eta_in_words():
    assert eta_describe(30, "en") == "less than a minute"
    assert eta_describe(300, "fr") == "environ 5 minutes"
    assert eta_describe(None, "en") == "?"
