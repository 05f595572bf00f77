"""Which language a customer gets: the one rule (docs/i18n.md, "Customers").

`customer_language` decides, in this order:

1. the language the customer's client asked for (the widget sends the page's `data-lang`, else the
   browser's `navigator.language`, when it creates its session);
2. else the contact's language (crm's `Contact.language`, e.g. set by an agent or a previous session);
3. else the inbox's default language (`Inbox.language`, "en" unless an admin changes it).

Platform customers (WhatsApp, Telegram, WeChat, SMS) send no language, so theirs is the contact's, else
the inbox's. The answer is a lower-case BCP 47 tag (`zh-hans`, `fr`, `en`); Chinese tags that name a
region are read as the script they are written in (`zh-CN` -> `zh-hans`, `zh-TW` -> `zh-hant`), as
Django reads them. A conversation keeps the language chosen when it was created
(`Conversation.language`), so the bot, the automatic messages and the widget speak one language for the
whole conversation even if the contact's record changes meanwhile.

Each text source then falls back on its own (`text_language_candidates`): the language's own text (or its
base language's, `fr-ca` -> `fr`), else the inbox's default language's, else the first text there is.
Texts from Switchboard's catalogs (the widget's words) use `ui_language`: the language if Switchboard is
translated into it (settings.LANGUAGES), else the inbox's, else settings.LANGUAGE_CODE.
"""

from __future__ import annotations

import re

from django.conf import settings
from django.conf.locale import LANG_INFO
from django.utils import translation

from imsubsystem.models import Conversation

_TAG = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{1,8})*$")


def language_normalize(tag: object) -> str:
    """A lower-case BCP 47 tag, "" for anything that is not one ("zh_CN" -> "zh-hans", "EN-us" -> "en-us")."""
    if not isinstance(tag, str):
        return ""
    tag = tag.strip().lower().replace("_", "-")[:35]
    if not _TAG.match(tag):
        return ""
    # A region standing for a script (zh-cn, zh-sg: simplified; zh-tw, zh-hk: traditional), as Django reads it.
    fallback = (LANG_INFO.get(tag) or {}).get("fallback")
    if tag.startswith("zh-") and fallback:
        return fallback[0]
    if tag == "zh":
        return "zh-hans"
    return tag


def customer_language(*, requested: object = "", contact_language: object = "", inbox_language: object = "") -> str:
    """The customer's language: what their client asked for, else the contact's, else the inbox's default,
    else settings.LANGUAGE_CODE. Never empty."""
    for candidate in (requested, contact_language, inbox_language, settings.LANGUAGE_CODE):
        tag = language_normalize(candidate)
        if tag:
            return tag
    return "en"


def ui_language(language: object, inbox_language: object = "") -> str:
    """The language of settings.LANGUAGES to use for Switchboard's own words (its catalogs): the customer's
    if Switchboard speaks it (or a variant of it), else the inbox's, else settings.LANGUAGE_CODE."""
    for candidate in (language, inbox_language):
        tag = language_normalize(candidate)
        if not tag:
            continue
        try:
            return translation.get_supported_language_variant(tag)
        except LookupError:
            continue
    return settings.LANGUAGE_CODE


def text_language_candidates(language: object, inbox_language: object = "") -> list[str]:
    """The languages to look for, in order, in a text held per language: the customer's language from the
    most specific tag to its base, then the inbox's default language (and its base). The caller takes the
    first text there is when none of these has one."""
    found: list[str] = []
    for candidate in (language, inbox_language):
        tag = language_normalize(candidate)
        while tag:
            if tag not in found:
                found.append(tag)
            tag = tag.rpartition("-")[0]
    return found


def text_for_language(texts: object, language: object, inbox_language: object = "") -> str:
    """One text of a {language: text} map (or a plain string, the same in every language) for a customer:
    the language's, else the inbox's default language's, else the first non-empty one. Keys are compared
    as language_normalize reads them ("zh-Hans" and "zh_CN" are both "zh-hans")."""
    if isinstance(texts, str):
        return texts
    if not isinstance(texts, dict):
        return ""
    by_tag: dict[str, str] = {}
    for key, value in texts.items():
        tag = language_normalize(key)
        if tag and isinstance(value, str) and value and tag not in by_tag:
            by_tag[tag] = value
    for candidate in text_language_candidates(language, inbox_language):
        if candidate in by_tag:
            return by_tag[candidate]
    return next(iter(by_tag.values()), "")


def conversation_language(*, conversation_id: int) -> tuple[str, str]:
    """(the conversation's language, its inbox's default language). A conversation from before languages
    were stored gets the rule's answer from its contact and inbox now."""
    row = (
        Conversation.objects.filter(pk=conversation_id)
        .values_list("language", "contact__language", "inbox__language")
        .first()
    )
    if row is None:
        return settings.LANGUAGE_CODE, settings.LANGUAGE_CODE
    language, contact_language, inbox_language = row
    inbox_language = language_normalize(inbox_language) or settings.LANGUAGE_CODE
    return language or customer_language(contact_language=contact_language, inbox_language=inbox_language), (
        inbox_language
    )
