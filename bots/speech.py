"""What a bot says, and to whom: the one way a bot message reaches the switch, and a flow's texts for a
contact. Shared by the bot's turn (bots/turn.py), the messages around the wait (bots/waiting.py) and the
survey (bots/survey.py).

Bot messages go through imsubsystem.services.message_send with sender kind "bot", like any other sender.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bots import engine
from bots.models import BotFlow
from crm.models import Contact
from imsubsystem import selectors as switch_selectors
from imsubsystem import services as switch_services


def contact_info(contact_id: int, conversation_id: int | None = None) -> dict[str, Any]:
    """The customer's language (the conversation's, chosen once by the switch's rule:
    imsubsystem.selectors.customer_language), the inbox's default language, the contact's timezone and
    the values a text's placeholders may name."""
    if conversation_id is not None:
        language, inbox_language = switch_selectors.conversation_language(conversation_id=conversation_id)
    else:
        language, inbox_language = "", ""
    contact = Contact.objects.filter(pk=contact_id).first()
    if contact is None:
        return {"language": language, "inbox_language": inbox_language, "timezone": "", "values": {}}
    return {
        "language": language or switch_selectors.customer_language(contact_language=contact.language),
        "inbox_language": inbox_language,
        "timezone": contact.timezone,
        "values": {
            "name": contact.name,
            "email": contact.primary_email,
            "phone": contact.primary_phone,
            "order_number": (contact.custom_attributes or {}).get("order_number", ""),
        },
    }


def say(conversation_id: int, action: Mapping, client_id: str) -> None:
    """Send an engine's `say` action. Numbered options are written in the text already; only buttons
    travel beside it."""
    buttons = action["options"] if action["presentation"] == "buttons" else ()
    switch_services.message_send(
        conversation_id=conversation_id,
        sender_kind="bot",
        text=action["text"][:4000],
        client_id=client_id[:64],
        buttons=buttons,
    )


def say_text(conversation_id: int, text: str, client_id: str, *, buttons: Sequence[Mapping] = ()) -> None:
    """Send plain text, with quick-reply buttons when given."""
    presentation = "buttons" if buttons else "none"
    say(conversation_id, {"text": text, "options": list(buttons), "presentation": presentation}, client_id)


def note(conversation_id: int, text: str, client_id: str) -> None:
    """A private note for the agents (never shown to the customer)."""
    switch_services.message_send(
        conversation_id=conversation_id, sender_kind="bot", text=text[:4000], client_id=client_id[:64], private=True
    )


def flow_text_for(flow: BotFlow, key: str, contact: Mapping, values: Mapping | None = None) -> str:
    """One of the flow's texts (else the built-in one) in the customer's language, placeholders filled."""
    spec = {"language": flow.language, "texts": {k: getattr(flow, k) for k in BotFlow.TEXT_FIELDS if getattr(flow, k)}}
    ctx = {
        "language": contact.get("language"),
        "inbox_language": contact.get("inbox_language"),
        "values": {**(contact.get("values") or {}), **(values or {})},
    }
    return engine.flow_text(spec, key, ctx)
