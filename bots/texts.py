"""Bot texts: translations picked by the conversation's language, and the only way values enter a text.

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


def language_candidates(language: str | None, *fallbacks: str | None) -> list[str]:
    """ "zh-Hans-CN" -> ["zh-hans-cn", "zh-hans", "zh", <fallbacks, each from its most specific tag>, "en"]."""
    candidates: list[str] = []
    for given in (language, *fallbacks, DEFAULT_LANGUAGE):
        tag = (given or "").strip().lower().replace("_", "-")
        while tag:
            if tag not in candidates:
                candidates.append(tag)
            tag = tag.rpartition("-")[0]
    return candidates


def text_pick(texts: Translations | None, language: str | None, *fallbacks: str | None) -> str:
    """The translation for a language, falling back to its base language, then each fallback in order
    (the inbox's default language, the flow's language), English, then the first translation there is
    (docs/bots.md, "Texts and languages")."""
    if texts is None:
        return ""
    if isinstance(texts, str):
        return texts
    by_tag = {str(k).lower().replace("_", "-"): v for k, v in texts.items() if isinstance(v, str) and v}
    for candidate in language_candidates(language, *fallbacks):
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
    "welcome": {
        "en": "Hello! I am the virtual assistant.",
        "fr": "Bonjour ! Je suis l'assistant virtuel.",
        "zh-hans": "您好！我是智能客服助手。",
    },
    "handover": {
        "en": "I am connecting you to a person. One moment please.",
        "fr": "Je vous mets en relation avec un conseiller. Un instant s'il vous plaît.",
        "zh-hans": "正在为您转接人工客服，请稍候。",
    },
    "talk_to_person": {"en": "Talk to a person", "fr": "Parler à un conseiller", "zh-hans": "转人工客服"},
    "talk_to_person_hint": {
        "en": 'Reply "agent" to talk to a person.',
        "fr": "Répondez « conseiller » pour parler à une personne.",
        "zh-hans": "回复“人工”即可转接人工客服。",
    },
    "not_understood": {
        "en": 'Sorry, I did not understand. Reply "agent" to talk to a person.',
        "fr": "Désolé, je n'ai pas compris. Répondez « conseiller » pour parler à une personne.",
        "zh-hans": "抱歉，我没有理解您的意思。回复“人工”即可转接人工客服。",
    },
    "invalid_option": {
        "en": "Please choose one of the options.",
        "fr": "Merci de choisir une des options.",
        "zh-hans": "请从以下选项中选择一项。",
    },
    "invalid_name": {
        "en": "Please type your name.",
        "fr": "Merci d'indiquer votre nom.",
        "zh-hans": "请输入您的姓名。",
    },
    "invalid_email": {
        "en": "That does not look like an e-mail address. Please try again (like name@example.com).",
        "fr": "Cette adresse e-mail ne semble pas valide. Réessayez (par exemple nom@exemple.fr).",
        "zh-hans": "这似乎不是有效的电子邮箱地址，请重新输入（例如 name@example.com）。",
    },
    "invalid_phone": {
        "en": "That does not look like a phone number. Please type it with the country code, like +33 6 12 34 56 78.",
        "fr": "Ce numéro ne semble pas valide. Indiquez-le avec l'indicatif, par exemple +33 6 12 34 56 78.",
        "zh-hans": "这似乎不是有效的电话号码，请输入带国家区号的号码，例如 +86 138 0013 8000。",
    },
    "invalid_order_number": {
        "en": "That does not look like an order number (letters, digits and dashes). Please try again.",
        "fr": "Ce numéro de commande ne semble pas valide (lettres, chiffres et tirets). Réessayez.",
        "zh-hans": "这似乎不是有效的订单号（字母、数字和短横线），请重新输入。",
    },
    "goodbye": {"en": "Thank you, goodbye!", "fr": "Merci, au revoir !", "zh-hans": "感谢您的咨询，再见！"},
    "out_of_hours": {
        "en": "We are closed right now. We open again {next_open}. You can leave a message and we will answer "
        "first thing.",
        "fr": "Nous sommes fermés pour le moment. Nous rouvrons {next_open}. Vous pouvez laisser un message : "
        "nous y répondrons en priorité.",
        "zh-hans": "我们现在不在服务时间内，将于{next_open}恢复服务。您可以先留言，我们上班后会第一时间回复。",
    },
    "closed_notice": {
        "en": "We are closed right now and open again {next_open}. I can still answer common questions.",
        "fr": "Nous sommes fermés pour le moment et rouvrons {next_open}. Je peux quand même répondre aux "
        "questions courantes.",
        "zh-hans": "我们现在不在服务时间内，将于{next_open}恢复服务。常见问题我仍然可以为您解答。",
    },
    "out_of_hours_unknown": {"en": "later", "fr": "plus tard", "zh-hans": "稍后"},
    "leave_message_option": {"en": "Leave a message", "fr": "Laisser un message", "zh-hans": "留言"},
    "no_thanks_option": {"en": "No, thanks", "fr": "Non merci", "zh-hans": "不用了，谢谢"},
    "message_left": {
        "en": "Thank you. Write your message here; you are first in line when we open.",
        "fr": "Merci. Écrivez votre message ici : vous serez le premier servi à l'ouverture.",
        "zh-hans": "好的。请在这里写下您的留言，上班后我们会优先为您处理。",
    },
    "queue_position": {
        "en": "You are number {position} in line. Estimated wait: {eta}.",
        "fr": "Vous êtes numéro {position} dans la file. Attente estimée : {eta}.",
        "zh-hans": "您当前排在第 {position} 位，预计等待时间：{eta}。",
    },
    "agent_joined": {
        "en": "{agent} has joined the conversation.",
        "fr": "{agent} a rejoint la conversation.",
        "zh-hans": "{agent} 已加入会话。",
    },
    "idle_reminder": {
        "en": "Are you still there? This conversation will close soon if we do not hear from you.",
        "fr": "Êtes-vous toujours là ? Cette conversation sera bientôt fermée sans réponse de votre part.",
        "zh-hans": "请问您还在吗？如果一段时间内没有收到您的回复，本次会话将自动结束。",
    },
    "idle_closed": {
        "en": "We closed this conversation after a while without news. Write again any time.",
        "fr": "Nous avons fermé cette conversation faute de réponse. Écrivez-nous quand vous voulez.",
        "zh-hans": "由于长时间未收到您的回复，本次会话已结束。如有需要，欢迎随时再联系我们。",
    },
    "survey_rating": {
        "en": "How did we do? Reply with a number from 1 (poor) to 5 (excellent).",
        "fr": "Comment avons-nous été ? Répondez par un chiffre de 1 (mauvais) à 5 (excellent).",
        "zh-hans": "请为本次服务打分：回复 1（很差）到 5（非常满意）之间的数字。",
    },
    "survey_comment": {
        "en": 'Thank you! Anything you would like to add? (Reply "no" to skip.)',
        "fr": "Merci ! Souhaitez-vous ajouter un commentaire ? (Répondez « non » pour passer.)",
        "zh-hans": "谢谢！您还有什么想补充的吗？（回复“不用”即可跳过。）",
    },
    "survey_thanks": {
        "en": "Thank you for your feedback!",
        "fr": "Merci pour votre avis !",
        "zh-hans": "感谢您的反馈！",
    },
}

# Wait-time words per language for the {eta} placeholder.
_ETA_WORDS = {
    "en": ("less than a minute", "about {n} minutes", "about 1 minute"),
    "fr": ("moins d'une minute", "environ {n} minutes", "environ 1 minute"),
    "zh": ("不到 1 分钟", "约 {n} 分钟", "约 1 分钟"),
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
