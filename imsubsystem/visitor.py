"""Visitor context: what the web widget tells of the visitor's page and browser, bounded before it is stored
on their widget session (docs/interface.md, "Visitor context").

The widget sends the page's URL, title and referrer, the browser's language and time zone, and the
custom attributes the embedding site gave it; the browser and operating system are read here from the
request's User-Agent. Everything is checked as a whole: one field too long, of the wrong type, or one
custom attribute too many, and the request is refused with `invalid` and nothing is stored. The last
pages seen are kept as a short history, newest first.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from django.utils import timezone

from core.errors import DomainError
from imsubsystem.models import Conversation, WidgetSession

MAX_URL = 2048
MAX_TITLE = 300
MAX_LANGUAGE = 35
MAX_TIMEZONE = 64
MAX_USER_AGENT = 512
MAX_ATTRIBUTES = 20
MAX_ATTRIBUTE_KEY = 64
MAX_ATTRIBUTE_TEXT = 256
MAX_ATTRIBUTES_JSON = 4096
PAGES_KEPT = 10
CONTEXT_FIELDS = ("url", "title", "referrer", "language", "timezone", "custom_attributes")

_LANGUAGE = re.compile(r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{1,8})*$")
_TIMEZONE = re.compile(r"^[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+){0,2}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _refuse(detail: str) -> DomainError:
    return DomainError("invalid", f"context: {detail}")


def _text(data: dict[str, Any], name: str, limit: int) -> str:
    value = data.get(name, "")
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > limit or _CONTROL.search(value):
        raise _refuse(f"{name} must be a text of at most {limit} characters, without control characters.")
    return value.strip()


def _url(data: dict[str, Any], name: str) -> str:
    value = _text(data, name, MAX_URL)
    if value and not value.lower().startswith(("http://", "https://")):
        raise _refuse(f"{name} must be an http or https URL.")
    return value


def _attributes(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _refuse("custom_attributes must be a JSON object.")
    if len(value) > MAX_ATTRIBUTES:
        raise _refuse(f"custom_attributes takes at most {MAX_ATTRIBUTES} keys.")
    checked: dict[str, Any] = {}
    for key, item in value.items():
        if not isinstance(key, str) or not key.strip() or len(key) > MAX_ATTRIBUTE_KEY or _CONTROL.search(key):
            raise _refuse(f"custom_attributes keys are texts of 1 to {MAX_ATTRIBUTE_KEY} characters.")
        if isinstance(item, str):
            if len(item) > MAX_ATTRIBUTE_TEXT or _CONTROL.search(item):
                raise _refuse(f"custom_attributes[{key!r}] is longer than {MAX_ATTRIBUTE_TEXT} characters.")
        elif isinstance(item, float) and not math.isfinite(item):
            raise _refuse(f"custom_attributes[{key!r}] is not a finite number.")
        elif item is not None and not isinstance(item, bool | int | float):
            raise _refuse(f"custom_attributes[{key!r}] must be a text, a number, true, false or null.")
        if isinstance(item, int) and not isinstance(item, bool) and abs(item) > 2**53:
            raise _refuse(f"custom_attributes[{key!r}] is too large a number.")
        checked[key.strip()] = item
    if len(json.dumps(checked)) > MAX_ATTRIBUTES_JSON:
        raise _refuse(f"custom_attributes must be at most {MAX_ATTRIBUTES_JSON // 1024} KB as JSON.")
    return checked


def visitor_context_check(data: Any) -> dict[str, Any]:
    """The context the widget sent, checked and bounded: the fields it gave (absent ones are not in the
    answer). Anything out of bounds refuses the whole of it (DomainError `invalid`)."""
    if not isinstance(data, dict):
        raise _refuse("send a JSON object.")
    unknown = sorted(str(k)[:40] for k in data if k not in CONTEXT_FIELDS)
    if unknown:
        raise _refuse(f"unknown field(s): {', '.join(unknown)}.")
    checked: dict[str, Any] = {}
    for name in ("url", "referrer"):
        if name in data:
            checked[name] = _url(data, name)
    if "title" in data:
        checked["title"] = _text(data, "title", MAX_TITLE)
    if "language" in data:
        checked["language"] = _text(data, "language", MAX_LANGUAGE)
        if checked["language"] and not _LANGUAGE.match(checked["language"]):
            raise _refuse("language must be a language tag like en or zh-Hans.")
    if "timezone" in data:
        checked["timezone"] = _text(data, "timezone", MAX_TIMEZONE)
        if checked["timezone"] and not _TIMEZONE.match(checked["timezone"]):
            raise _refuse("timezone must be an IANA name like Europe/Paris.")
    if "custom_attributes" in data and data["custom_attributes"] is not None:
        checked["custom_attributes"] = _attributes(data["custom_attributes"])
    return checked


# ---- User-Agent ---------------------------------------------------------------------------------------
# Ordered: the first match wins (Edge and Opera also say Chrome, Chrome also says Safari).
_BROWSERS = [
    ("Edge", re.compile(r"\b(?:Edg|Edge|EdgA|EdgiOS)/(\d{1,4})")),
    ("Opera", re.compile(r"\b(?:OPR|Opera)/(\d{1,4})")),
    ("Samsung Internet", re.compile(r"\bSamsungBrowser/(\d{1,4})")),
    ("WeChat", re.compile(r"\bMicroMessenger/(\d{1,4})")),
    ("Firefox", re.compile(r"\b(?:Firefox|FxiOS)/(\d{1,4})")),
    ("Chrome", re.compile(r"\b(?:HeadlessChrome|Chrome|CriOS|Chromium)/(\d{1,4})")),
    ("Safari", re.compile(r"\bVersion/(\d{1,4})[.\d]{0,12} (?:Mobile/\w{1,12} )?Safari/")),
]
_SYSTEMS = [
    ("Windows", re.compile(r"\bWindows NT (\d{1,2}\.\d{1,2})")),
    ("iOS", re.compile(r"\b(?:iPhone|iPad|iPod)\b.{0,40}? OS (\d{1,2})[_.]")),
    ("Android", re.compile(r"\bAndroid (\d{1,2})")),
    ("ChromeOS", re.compile(r"\bCrOS\b()")),
    ("macOS", re.compile(r"\bMac OS X (\d{1,2})[_.](\d{1,2})")),
    ("Linux", re.compile(r"\bLinux\b()")),
]
_WINDOWS_NAMES = {"10.0": "10/11", "6.3": "8.1", "6.2": "8", "6.1": "7"}


def user_agent_parse(user_agent: str) -> dict[str, str]:
    """{"browser": "Chrome 120", "os": "Windows 10/11"} from a User-Agent header, each "" when unknown.
    Reads at most MAX_USER_AGENT characters with bounded patterns (no backtracking blow-up on a hostile
    header)."""
    text = (user_agent or "")[:MAX_USER_AGENT]
    browser = ""
    for name, pattern in _BROWSERS:
        found = pattern.search(text)
        if found:
            browser = f"{name} {found.group(1)}"
            break
    system = ""
    for name, pattern in _SYSTEMS:
        found = pattern.search(text)
        if not found:
            continue
        if name == "Windows":
            system = f"Windows {_WINDOWS_NAMES.get(found.group(1), found.group(1))}"
        elif name == "macOS":
            major, minor = found.group(1), found.group(2)
            # Browsers froze the version at 10.15 since macOS 11: say only macOS then.
            system = "macOS" if (major, minor) == ("10", "15") else f"macOS {major}.{minor}"
        elif found.group(1):
            system = f"{name} {found.group(1)}"
        else:
            system = name
        break
    return {"browser": browser, "os": system}


# ---- Storing ------------------------------------------------------------------------------------------
def visitor_context_merge(
    previous: dict[str, Any], checked: dict[str, Any], *, user_agent: str, now_iso: str
) -> dict[str, Any]:
    """The session's new context: the fields sent replace the old ones, the page moves to the head of
    the short page history (a reload of the same page does not repeat it), the browser and system are
    read again from this request."""
    context = {key: value for key, value in (previous or {}).items() if key in (*CONTEXT_FIELDS, "pages")}
    context.update(checked)
    context.update(user_agent_parse(user_agent))
    pages = [p for p in (previous or {}).get("pages", []) if isinstance(p, dict)]
    if checked.get("url"):
        page = {"url": checked["url"], "title": checked.get("title", ""), "at": now_iso}
        if pages and pages[0].get("url") == page["url"]:
            pages[0] = page
        else:
            pages.insert(0, page)
    context["pages"] = pages[:PAGES_KEPT]
    context["updated_at"] = now_iso
    return context


def widget_session_context_set(*, session: WidgetSession, context: dict[str, Any], user_agent: str) -> dict[str, Any]:
    """Store a checked context (visitor_context_check's answer) on the session; returns what is stored."""
    now = timezone.now()
    merged = visitor_context_merge(session.context, context, user_agent=user_agent, now_iso=now.isoformat())
    WidgetSession.objects.filter(pk=session.pk).update(context=merged, context_updated_at=now)
    session.context, session.context_updated_at = merged, now
    return merged


def visitor_context_for(*, contact_id: int, inbox_id: int) -> dict[str, Any] | None:
    """The visitor context of a contact in a web inbox: that of their session last told of one (a
    customer on two devices shows the one they used last), or None."""
    found = (
        WidgetSession.objects.filter(contact_id=contact_id, inbox_id=inbox_id, context_updated_at__isnull=False)
        .order_by("-context_updated_at", "-pk")
        .values_list("context", flat=True)
        .first()
    )
    return visitor_context_public(found) if found is not None else None


def visitor_context_of_conversation(*, conversation_id: int) -> dict[str, Any] | None:
    """The visitor context shown beside a conversation of a web inbox (the caller has checked that the
    viewer may see it), or None: another channel, or a visitor whose widget told nothing yet."""
    found = Conversation.objects.filter(pk=conversation_id, inbox__kind="web").values("contact_id", "inbox_id").first()
    return visitor_context_for(**found) if found else None


def visitor_context_public(context: dict[str, Any]) -> dict[str, Any]:
    """The stored context in the shape the console and the API show (every key present)."""
    return {
        "url": context.get("url", ""),
        "title": context.get("title", ""),
        "referrer": context.get("referrer", ""),
        "browser": context.get("browser", ""),
        "os": context.get("os", ""),
        "language": context.get("language", ""),
        "timezone": context.get("timezone", ""),
        "custom_attributes": context.get("custom_attributes", {}),
        "pages": [
            {"url": p.get("url", ""), "title": p.get("title", ""), "at": p.get("at")}
            for p in context.get("pages", [])
            if isinstance(p, dict)
        ],
        "updated_at": context.get("updated_at"),
    }
