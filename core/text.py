"""Text that can be stored: the one check every edge runs on what people and platforms send.

JSON may carry a lone UTF-16 surrogate ("\\ud800" is valid JSON), which Python decodes into a `str` that
cannot be encoded as UTF-8: MySQL's driver, a template's response and every other encoder fail on it.
Such text is refused where it enters (`invalid`) from clients that can fix it (the widget, the consoles,
integrators), and replaced with U+FFFD from platforms that already accepted it (a customer's message is
kept, not lost). Every app imports this module, so it lives beside the settings, not in one app.
"""

from __future__ import annotations

import re
from typing import Any

REPLACEMENT = "\ufffd"
_SURROGATE = re.compile("[\ud800-\udfff]")
# A \u escape of a surrogate in raw JSON (a pair that makes one character matches too, and then passes
# the full check): frames without one skip the walk.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def text_storable(value: str) -> bool:
    """True when `value` encodes as UTF-8 (it has no lone surrogate)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def json_unstorable_path(value: Any, path: str = "") -> str | None:
    """The path ("text", "metadata.name", "params[2]") of the first string, or object key, in a decoded
    JSON value that cannot be stored; None when all can."""
    if isinstance(value, str):
        return None if text_storable(value) else (path or "value")
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if isinstance(key, str) and not text_storable(key):
                return (path + " key") if path else "key"
            found = json_unstorable_path(item, where)
            if found is not None:
                return found
        return None
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            found = json_unstorable_path(item, f"{path}[{index}]")
            if found is not None:
                return found
    return None


def raw_json_may_hold_surrogate(raw: str | bytes) -> bool:
    """A cheap look at raw JSON text: False means no string in it can hold a lone surrogate (JSON from a
    UTF-8 decoder only gets one through a \\u escape)."""
    if isinstance(raw, bytes):
        raw = raw.decode("latin-1")
    return _SURROGATE_ESCAPE.search(raw) is not None


def unstorable_detail(path: str) -> str:
    return f"{path} is not valid text (it holds a lone UTF-16 surrogate, which is not Unicode text)."


def text_clean(value: str) -> str:
    """Lone surrogates replaced with U+FFFD; every other character kept."""
    if text_storable(value):
        return value
    # A valid pair decoded by json.loads is already one character, so what is left here is lone.
    return _SURROGATE.sub(REPLACEMENT, value)


def json_clean(value: Any) -> Any:
    """A decoded JSON value with `text_clean` applied to every string and object key."""
    if isinstance(value, str):
        return text_clean(value)
    if isinstance(value, dict):
        return {(text_clean(k) if isinstance(k, str) else k): json_clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_clean(item) for item in value]
    return value
