# ruff: noqa: RUF002 - the full-width examples are the point
"""The words of a text, as the message search indexes and looks them up (docs/imsubsystem.md, "Search").

One rule for the stored text and for the query, so a query finds what was written:

- the text is NFKC-normalised and case-folded (full-width ``ＡＢＣ１２３`` is ``abc123``, ``Straße`` is
  ``strasse``);
- a run of CJK characters (Han, kana, Hangul) gives its overlapping bigrams: ``申请退款`` gives ``申请``,
  ``请退``, ``退款``. Chinese has no spaces between words, so any 2-character word inside a run is a
  bigram of it, and a longer word is the chain of its bigrams;
- a run of other letters is one word, and a run of digits another (``abc123`` gives ``abc`` and ``123``,
  ``订单号12345`` gives ``订单``, ``单号`` and ``12345``);
- single characters are not indexed (a lone CJK character, ``a``, ``7``): they would make the largest
  posting lists for the least precise answers. A query of single characters only is refused.

A token is stored as a signed 64-bit hash (`token_hash`): every token has the same size, the index is
of integers on every database (no collation decides whether two tokens are equal) and a query never
needs the token's text. A hash collision can only add a candidate, never lose one.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable

# Han (with extensions A-G and the compatibility ideographs), hiragana, katakana, Hangul syllables.
_CJK = "\u3040-\u309f\u30a0-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\U00020000-\U0003134f"
_RUNS = re.compile(rf"([{_CJK}]+)|([^\W\d_{_CJK}]+)|(\d+)")
MIN_TOKEN_CHARS = 2


def normalise(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def words(text: str) -> tuple[list[str], list[str]]:
    """(tokens, CJK runs of 3+ characters) of a text: the tokens in order of appearance, without repeats.
    A run of 3+ characters is a chain of bigrams, which may also be found apart in a text (``退款`` and
    ``款单`` in different places for ``退款单``): a query checks the text for such a run as a whole."""
    tokens: dict[str, None] = {}
    runs: list[str] = []
    for cjk, letters, digits in _RUNS.findall(normalise(text)):
        if cjk:
            if len(cjk) >= 3:
                runs.append(cjk)
            for i in range(len(cjk) - 1):
                tokens[cjk[i : i + 2]] = None
        else:
            word = letters or digits
            if len(word) >= MIN_TOKEN_CHARS:
                tokens[word] = None
    return list(tokens), runs


def token_hash(token: str) -> int:
    """The token as a signed 64-bit integer (fits a BIGINT on every database)."""
    return int.from_bytes(hashlib.blake2b(token.encode(), digest_size=8).digest(), "big", signed=True)


def text_hashes(text: str) -> list[int]:
    """What a stored text is indexed under: one hash per distinct token."""
    return list({token_hash(t) for t in words(text)[0]})


def hashes_of(tokens: Iterable[str]) -> list[int]:
    return list(dict.fromkeys(token_hash(t) for t in tokens))
