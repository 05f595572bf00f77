"""Every error code the server sends has a sentence in each client (console, widget, dashboard), so no
one is ever shown a bare code; and the server's own default detail is a sentence too."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from imsubsystem.events import ERROR_CODES
from imsubsystem.services import SwitchError

ROOT = Path(__file__).resolve().parents[2]
CLIENTS = ["static/agent/console.js", "static/widget/widget.js", "static/supervisor/dashboard.js"]


def error_words(path: str) -> dict[str, str]:
    source = (ROOT / path).read_text()
    block = re.search(r"var ERROR_WORDS = \{(.*?)\n\s*\};", source, re.S)
    assert block, f"{path} has no ERROR_WORDS map"
    # `code: "sentence",` or, marked for the catalog and translated where it is shown,
    # `code: gettext_noop("sentence"),`: either way every code has its English sentence.
    return dict(re.findall(r'^\s*(\w+): (?:gettext_noop\()?"([^"]+)"\)?,?$', block.group(1), re.M))


@pytest.mark.parametrize("path", CLIENTS)
def test_every_error_code_has_a_sentence(path):
    words = error_words(path)
    assert set(ERROR_CODES) <= set(words), sorted(set(ERROR_CODES) - set(words))
    for code, sentence in words.items():
        assert sentence[0].isupper() and sentence.rstrip().endswith((".", "…")), (code, sentence)
        assert "_" not in sentence, (code, sentence)


def test_a_refusal_without_a_detail_carries_the_codes_sentence():
    assert SwitchError("not_waiting").detail == ERROR_CODES["not_waiting"]
    assert SwitchError("not_waiting", "Conversation 4 is assigned.").detail == "Conversation 4 is assigned."
