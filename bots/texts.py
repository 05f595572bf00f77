"""Bot texts: translations picked by the contact's language, and the only way values enter a text.

Admins write texts; customers never do. A text is either a plain string or a dict of translations
({"en": "...", "fr": "..."}). Placeholders are `{name}` style words from PLACEHOLDERS, replaced in one
pass by plain string values: nothing is ever evaluated (no template engine, no str.format), and a
customer's value that itself looks like a placeholder or a template stays exactly as typed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

# Every placeholder an admin may use; anything else in braces is left as written.
PLACEHOLDERS = frozenset(
    {"name", "email", "phone", "order_number", "queue", "position", "eta", "agent", "next_open", "inbox"}
)
_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")

DEFAULT_LANGUAGE = "en"

Translations = str | Mapping[str, str]


def language_candidates(language: str | None, fallback: str = DEFAULT_LANGUAGE) -> list[str]:
    """ "zh-Hans-CN" -> ["zh-hans-cn", "zh-hans", "zh", fallback]: most specific first."""
    candidates: list[str] = []
    tag = (language or "").strip().lower().replace("_", "-")
    while tag:
        candidates.append(tag)
        tag = tag.rpartition("-")[0]
    for extra in (fallback.lower(), DEFAULT_LANGUAGE):
        if extra not in candidates:
            candidates.append(extra)
    return candidates


def text_pick(texts: Translations | None, language: str | None, fallback: str = DEFAULT_LANGUAGE) -> str:
    """The translation for a language, falling back to its base language, the flow's language, English,
    then any translation there is."""
    if texts is None:
        return ""
    if isinstance(texts, str):
        return texts
    by_tag = {str(k).lower().replace("_", "-"): v for k, v in texts.items() if isinstance(v, str) and v}
    for candidate in language_candidates(language, fallback):
        if candidate in by_tag:
            return by_tag[candidate]
    return next(iter(by_tag.values()), "")


def text_render(template: str, values: Mapping[str, Any] | None = None) -> str:
    """Replace known placeholders in an admin-written text with plain values, in a single pass.

    A value inserted here is never scanned again, so "{{ settings.SECRET_KEY }}" or "{0.__class__}" typed
    by a customer comes back as exactly those characters.
    """
    values = values or {}

    def _substitute(match: re.Match) -> str:
        key = match.group(1)
        if key in PLACEHOLDERS and key in values and values[key] is not None:
            return str(values[key])
        return match.group(0)

    return _PLACEHOLDER.sub(_substitute, template)


def translations_validate(value: Any) -> None:
    """Raise ValueError unless value is a string or a {language: string} dict."""
    if isinstance(value, str):
        return
    if not isinstance(value, Mapping):
        raise ValueError('Write a text, or translations like {"en": "Hello", "fr": "Bonjour"}.')
    for key, text in value.items():
        if not isinstance(key, str) or not re.fullmatch(r"[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*", key):
            raise ValueError(f"{key!r} is not a language tag like en, fr or zh-Hans.")
        if not isinstance(text, str):
            raise ValueError(f"The {key} translation must be text.")


# Words that hand the conversation to a person at any step (a flow may set its own list).
DEFAULT_HANDOVER_WORDS = ("agent", "human", "person", "operator", "humain", "conseiller", "人工", "客服")

# The automatic messages, used when a flow leaves the text empty. Placeholders: PLACEHOLDERS.
DEFAULT_TEXTS: dict[str, dict[str, str]] = {
    "welcome": {"en": "Hello! I am the virtual assistant.", "fr": "Bonjour ! Je suis l'assistant virtuel."},
    "handover": {
        "en": "I am connecting you to a person. One moment please.",
        "fr": "Je vous mets en relation avec un conseiller. Un instant s'il vous plaît.",
    },
    "talk_to_person": {"en": "Talk to a person", "fr": "Parler à un conseiller"},
    "talk_to_person_hint": {
        "en": 'Reply "agent" to talk to a person.',
        "fr": "Répondez « conseiller » pour parler à une personne.",
    },
    "not_understood": {
        "en": 'Sorry, I did not understand. Reply "agent" to talk to a person.',
        "fr": "Désolé, je n'ai pas compris. Répondez « conseiller » pour parler à une personne.",
    },
    "invalid_option": {"en": "Please choose one of the options.", "fr": "Merci de choisir une des options."},
    "invalid_name": {"en": "Please type your name.", "fr": "Merci d'indiquer votre nom."},
    "invalid_email": {
        "en": "That does not look like an e-mail address. Please try again (like name@example.com).",
        "fr": "Cette adresse e-mail ne semble pas valide. Réessayez (par exemple nom@exemple.fr).",
    },
    "invalid_phone": {
        "en": "That does not look like a phone number. Please type it with the country code, like +33 6 12 34 56 78.",
        "fr": "Ce numéro ne semble pas valide. Indiquez-le avec l'indicatif, par exemple +33 6 12 34 56 78.",
    },
    "invalid_order_number": {
        "en": "That does not look like an order number (letters, digits and dashes). Please try again.",
        "fr": "Ce numéro de commande ne semble pas valide (lettres, chiffres et tirets). Réessayez.",
    },
    "goodbye": {"en": "Thank you, goodbye!", "fr": "Merci, au revoir !"},
    "out_of_hours": {
        "en": "We are closed right now. We open again {next_open}. You can leave a message and we will answer "
        "first thing.",
        "fr": "Nous sommes fermés pour le moment. Nous rouvrons {next_open}. Vous pouvez laisser un message : "
        "nous y répondrons en priorité.",
    },
    "closed_notice": {
        "en": "We are closed right now and open again {next_open}. I can still answer common questions.",
        "fr": "Nous sommes fermés pour le moment et rouvrons {next_open}. Je peux quand même répondre aux "
        "questions courantes.",
    },
    "out_of_hours_unknown": {"en": "later", "fr": "plus tard"},
    "leave_message_option": {"en": "Leave a message", "fr": "Laisser un message"},
    "no_thanks_option": {"en": "No, thanks", "fr": "Non merci"},
    "message_left": {
        "en": "Thank you. Write your message here; you are first in line when we open.",
        "fr": "Merci. Écrivez votre message ici : vous serez le premier servi à l'ouverture.",
    },
    "queue_position": {
        "en": "You are number {position} in line. Estimated wait: {eta}.",
        "fr": "Vous êtes numéro {position} dans la file. Attente estimée : {eta}.",
    },
    "agent_joined": {"en": "{agent} has joined the conversation.", "fr": "{agent} a rejoint la conversation."},
    "idle_reminder": {
        "en": "Are you still there? This conversation will close soon if we do not hear from you.",
        "fr": "Êtes-vous toujours là ? Cette conversation sera bientôt fermée sans réponse de votre part.",
    },
    "idle_closed": {
        "en": "We closed this conversation after a while without news. Write again any time.",
        "fr": "Nous avons fermé cette conversation faute de réponse. Écrivez-nous quand vous voulez.",
    },
    "survey_rating": {
        "en": "How did we do? Reply with a number from 1 (poor) to 5 (excellent).",
        "fr": "Comment avons-nous été ? Répondez par un chiffre de 1 (mauvais) à 5 (excellent).",
    },
    "survey_comment": {
        "en": 'Thank you! Anything you would like to add? (Reply "no" to skip.)',
        "fr": "Merci ! Souhaitez-vous ajouter un commentaire ? (Répondez « non » pour passer.)",
    },
    "survey_thanks": {"en": "Thank you for your feedback!", "fr": "Merci pour votre avis !"},
}

# Wait-time words per language for the {eta} placeholder.
_ETA_WORDS = {
    "en": ("less than a minute", "about {n} minutes", "about 1 minute"),
    "fr": ("moins d'une minute", "environ {n} minutes", "environ 1 minute"),
}


def eta_describe(seconds: int | None, language: str | None) -> str:
    words = _ETA_WORDS.get((language or "en").split("-")[0].lower(), _ETA_WORDS["en"])
    if seconds is None:
        return "?"
    minutes = round(seconds / 60)
    if minutes < 1:
        return words[0]
    if minutes == 1:
        return words[2]
    return words[1].replace("{n}", str(minutes))
