"""Which language a customer gets (imsubsystem/selectors/language.py): the widget's page or browser language,
else the contact's, else the inbox's default; kept on the conversation; texts per language fall back to the
inbox's default language, then the first. The widget's session answer carries its words in that language."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from crm.models import Contact
from imsubsystem import selectors
from imsubsystem import services as switch
from imsubsystem.models import Conversation, Inbox
from interface.widget_strings import ERROR_WORDS, STRINGS, widget_strings
from tests.factories import InboxFactory

ROOT = Path(__file__).resolve().parents[2]
ORIGIN = "https://shop.example"


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("zh-CN", "zh-hans"),
        ("zh_SG", "zh-hans"),
        ("zh", "zh-hans"),
        ("zh-Hans", "zh-hans"),
        ("zh-TW", "zh-hant"),
        ("EN-us", "en-us"),
        ("fr", "fr"),
        ("", ""),
        ("not a tag", ""),
        ("<script>", ""),
        (None, ""),
        (42, ""),
    ],
)
def test_language_tags_are_normalized(tag, expected):
    assert selectors.language_normalize(tag) == expected


@pytest.mark.parametrize(
    ("requested", "contact", "inbox", "expected"),
    [
        ("zh-CN", "fr", "en", "zh-hans"),  # the browser's (or the page's) language first
        ("", "fr-FR", "en", "fr-fr"),  # else the contact's
        ("", "", "zh-Hans", "zh-hans"),  # else the inbox's default
        ("", "", "", "en"),  # else settings.LANGUAGE_CODE
        ("??", "bad tag", "zh-Hans", "zh-hans"),  # what is not a tag is skipped
    ],
)
def test_browser_language_beats_the_contacts_which_beats_the_inboxs(requested, contact, inbox, expected):
    assert selectors.customer_language(requested=requested, contact_language=contact, inbox_language=inbox) == expected


@pytest.mark.parametrize(
    ("language", "inbox", "expected"),
    [
        ("zh-hans", "en", "zh-hans"),
        ("zh-CN", "en", "zh-hans"),
        ("en-gb", "zh-hans", "en"),
        ("de", "zh-hans", "zh-hans"),
    ],
)
def test_switchboards_own_words_fall_back_to_the_inboxs_language(language, inbox, expected):
    assert selectors.ui_language(language, inbox) == expected
    assert selectors.ui_language("de", "") == "en"


def test_a_text_per_language_falls_back_to_the_inboxs_language_then_the_first():
    texts = {"fr": "Bonjour", "zh-Hans": "您好", "en": "Hello"}
    assert selectors.text_for_language(texts, "zh-hans", "en") == "您好"
    assert selectors.text_for_language(texts, "fr-ca", "en") == "Bonjour"  # the base language
    assert selectors.text_for_language(texts, "de", "fr") == "Bonjour"  # the inbox's default
    assert selectors.text_for_language({"de": "Hallo", "fr": "Salut"}, "zh-hans", "en") == "Hallo"  # the first
    assert selectors.text_for_language("Plain", "zh-hans", "en") == "Plain"
    assert selectors.text_for_language({}, "zh-hans", "en") == ""


@pytest.mark.django_db(transaction=True)
def test_a_conversation_keeps_the_language_chosen_when_it_began():
    inbox = InboxFactory(kind="whatsapp", key="wa-lang", language="zh-Hans")
    chinese = Contact.objects.create(name="李雷", language="zh-CN")
    nobody = Contact.objects.create(name="Ann")
    french = Contact.objects.create(name="Amélie", language="fr")
    first, _ = switch.customer_message_send(inbox_id=inbox.pk, contact_id=chinese.pk, text="你好")
    second, _ = switch.customer_message_send(inbox_id=inbox.pk, contact_id=nobody.pk, text="hi")
    third, _ = switch.customer_message_send(inbox_id=inbox.pk, contact_id=french.pk, text="salut")
    assert Conversation.objects.get(pk=first["conversation_id"]).language == "zh-hans"
    assert Conversation.objects.get(pk=second["conversation_id"]).language == "zh-hans"  # the inbox's
    assert Conversation.objects.get(pk=third["conversation_id"]).language == "fr"
    # A later change of the contact's record does not change a running conversation's language.
    Contact.objects.filter(pk=chinese.pk).update(language="en")
    assert selectors.conversation_language(conversation_id=first["conversation_id"]) == ("zh-hans", "zh-hans")
    # A conversation from before languages were stored gets the rule's answer.
    Conversation.objects.filter(pk=third["conversation_id"]).update(language="")
    assert selectors.conversation_language(conversation_id=third["conversation_id"]) == ("fr", "zh-hans")


def test_an_inbox_language_must_be_a_tag(db):
    from django.core.exceptions import ValidationError

    inbox = Inbox(kind="web", key="lang-check", name="Lang", language="Chinese please")
    with pytest.raises(ValidationError) as raised:
        inbox.full_clean()
    assert "language" in raised.value.message_dict
    assert Inbox(kind="web", key="lang-ok", name="Lang").language == "en"


# --- The widget's session ------------------------------------------------------------------------------
def _session(client, **body):
    return client.post("/api/v1/widget/shop/sessions", body, content_type="application/json", HTTP_ORIGIN=ORIGIN)


@pytest.mark.django_db(transaction=True)
def test_the_session_answer_carries_the_widgets_words_in_the_browsers_language(client):
    InboxFactory(kind="web", key="shop", config={"allowed_origins": [ORIGIN]})
    body = _session(client, language="zh-CN", locale="en-US").json()
    assert body["language"] == "zh-hans"
    assert body["strings"]["send"] == "发送" and body["strings"]["placeholder"] == "请输入消息…"
    assert body["strings"]["error.too_long"] == "消息过长，请精简后再发送。"
    # The page's language becomes the new contact's, so the conversation and the bot use it.
    assert Contact.objects.get(pk=body["contact_id"]).language == "zh-hans"
    # A v1 client sends only locale.
    v1 = _session(client, locale="zh-Hans-CN").json()
    assert v1["language"] == "zh-hans" and Contact.objects.get(pk=v1["contact_id"]).language == "zh-hans-cn"


@pytest.mark.django_db(transaction=True)
def test_a_language_switchboard_does_not_speak_gets_the_inboxs_words(client):
    InboxFactory(kind="web", key="shop", language="zh-Hans", config={"allowed_origins": [ORIGIN]})
    body = _session(client, language="de-DE").json()
    assert body["language"] == "zh-hans" and body["strings"]["send"] == "发送"
    assert Contact.objects.get(pk=body["contact_id"]).language == "de-de"  # bots may still have German texts
    assert _session(client).json()["language"] == "zh-hans"


@pytest.mark.django_db(transaction=True)
def test_a_bad_language_is_refused_and_creates_nothing(client):
    InboxFactory(kind="web", key="shop", config={"allowed_origins": [ORIGIN]})
    for bad in ("français!", 7, "x" * 40):
        response = _session(client, language=bad)
        assert response.status_code == 400 and response.json()["error"]["code"] == "invalid"
    assert not Contact.objects.exists()


# --- The widget's words: one list in Python and its English copy in widget.js ------------------------------
def _js_map(source: str, name: str) -> dict[str, str]:
    block = re.search(rf"var {name} = \{{(.*?)\n\s*\}};", source, re.S)
    assert block, name
    return dict(re.findall(r'^\s*(\w+): "([^"]+)",?$', block.group(1), re.M))


def test_the_widgets_english_words_are_the_servers():
    source = (ROOT / "static/widget/widget.js").read_text()
    assert _js_map(source, "STRINGS") == {key: str(text) for key, text in STRINGS.items()}
    assert _js_map(source, "ERROR_WORDS") == {key: str(text) for key, text in ERROR_WORDS.items()}
    # Every key the widget asks for exists.
    asked = set(re.findall(r'\bt\("(\w+)"', source))
    assert asked <= set(STRINGS), sorted(asked - set(STRINGS))


def test_every_widget_word_is_translated_into_chinese():
    english, chinese = widget_strings("en"), widget_strings("zh-hans")
    assert set(english) == set(chinese)
    untranslated = [key for key in english if english[key] == chinese[key]]
    assert untranslated == []
    for key, text in chinese.items():
        assert re.findall(r"%\(\w+\)s", text) == re.findall(r"%\(\w+\)s", english[key]), key
        assert not re.search(r"[A-Za-z]{3,}", re.sub(r"%\(\w+\)s", "", text)), (key, text)
