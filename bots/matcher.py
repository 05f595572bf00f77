"""FAQ matching: a pure function from a customer's text and the FAQ entries (plain dicts) to the best one.

Each entry is {"id", "phrasings": [str, ...], "keywords": [str, ...]}. A phrasing's score (0-100) mixes
RapidFuzz's token_set_ratio (word order does not matter) and WRatio (robust to typos and partial
matches), then adds keyword overlap: how many of the entry's words the text contains, where a word
counts when it is within a typo of a text word. Short texts (one meaningful word) lean on the plain
ratio instead, so "hours" alone never scores 100 against every phrasing that contains it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from rapidfuzz import fuzz

# Words that carry no meaning for matching, in the languages the demo ships.
STOPWORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "is",
        "are",
        "was",
        "were",
        "be",
        "do",
        "does",
        "did",
        "i",
        "you",
        "we",
        "they",
        "it",
        "my",
        "your",
        "our",
        "me",
        "to",
        "of",
        "in",
        "on",
        "at",
        "for",
        "and",
        "or",
        "what",
        "when",
        "where",
        "how",
        "why",
        "which",
        "who",
        "can",
        "could",
        "would",
        "should",
        "will",
        "please",
        "hi",
        "hello",
        "there",
        "this",
        "that",
        "with",
        "much",
        "many",
        "any",
        "some",
        "about",
        "le",
        "la",
        "les",
        "un",
        "une",
        "des",
        "est",
        "sont",
        "de",
        "du",
        "et",
        "ou",
        "je",
        "vous",
        "nous",
        "quoi",
        "quand",
        "comment",
        "pourquoi",
        "quel",
        "quelle",
    ]
)
# Chinese characters that carry no meaning for matching (particles, pronouns, question words): CJK text
# counts each character as a word, and these would match every question.
CJK_STOP_CHARACTERS = frozenset("的了吗呢吧啊呀么我你您他她它们是在有个这那和请问什怎哪吗嘛")
# Two words are "the same" for keyword overlap from this similarity on (one typo in a 6-letter word).
WORD_MATCH = 80
# Weight of the word overlap in the final score.
KEYWORD_WEIGHT = 35


@dataclass(frozen=True)
class FaqMatch:
    entry_id: int | None
    score: float
    phrasing: str

    @property
    def matched(self) -> bool:
        return self.entry_id is not None


def normalize(text: str) -> str:
    """Lower case, accents kept (they matter in French), punctuation gone, spaces collapsed."""
    text = unicodedata.normalize("NFKC", text or "").lower()
    text = re.sub(r"[^\w\s]", " ", text)
    return re.sub(r"\s+", " ", text).strip()


def words(text: str) -> set[str]:
    """Meaningful words; CJK text (no spaces) counts each character as a word."""
    found = set()
    for token in normalize(text).split():
        if any("\u3000" <= ch <= "\u9fff" for ch in token):
            found.update(ch for ch in token if not ch.isspace() and ch not in CJK_STOP_CHARACTERS)
        elif token not in STOPWORDS and len(token) > 1:
            found.add(token)
    return found


def _word_in(word: str, pool: Iterable[str]) -> bool:
    return any(word == other or fuzz.ratio(word, other) >= WORD_MATCH for other in pool)


def keyword_overlap(text_words: set[str], entry_words: set[str]) -> float:
    """Share (0..1) of the text's meaningful words found among the entry's words, typos allowed."""
    if not entry_words or not text_words:
        return 0.0
    hits = sum(1 for word in text_words if _word_in(word, entry_words))
    return hits / len(text_words)


def entry_vocabulary(entry: Mapping) -> set[str]:
    """Every meaningful word of an entry's phrasings and keywords."""
    vocabulary: set[str] = set()
    for text in [*(entry.get("phrasings") or ()), *(entry.get("keywords") or ())]:
        vocabulary |= words(text)
    return vocabulary


def phrasing_similarity(text: str, phrasing: str) -> float:
    query, candidate = normalize(text), normalize(phrasing)
    if not query or not candidate:
        return 0.0
    if len(words(query)) <= 1:
        return fuzz.ratio(query, candidate)
    return 0.5 * fuzz.token_set_ratio(query, candidate) + 0.5 * fuzz.WRatio(query, candidate)


def entry_score(text: str, entry: Mapping) -> tuple[float, str]:
    """(score 0-100, the phrasing closest to the text)."""
    best_similarity, best_phrasing = 0.0, ""
    for phrasing in entry.get("phrasings") or ():
        similarity = phrasing_similarity(text, phrasing)
        if similarity > best_similarity:
            best_similarity, best_phrasing = similarity, phrasing
    overlap = keyword_overlap(words(text), entry_vocabulary(entry))
    score = best_similarity * (1 - KEYWORD_WEIGHT / 100) + KEYWORD_WEIGHT * overlap
    return min(100.0, score), best_phrasing


def faq_match(text: str, entries: Sequence[Mapping], *, threshold: float) -> FaqMatch:
    """The best entry scoring at least `threshold`, else FaqMatch(None, best score, best phrasing)."""
    best = FaqMatch(None, 0.0, "")
    best_id: int | None = None
    for entry in entries:
        score, phrasing = entry_score(text, entry)
        if score > best.score:
            best = FaqMatch(None, score, phrasing)
            best_id = entry["id"]
    if best_id is not None and best.score >= threshold:
        return FaqMatch(best_id, round(best.score, 1), best.phrasing)
    return FaqMatch(None, round(best.score, 1), best.phrasing)


def faq_rank(text: str, entries: Sequence[Mapping], *, limit: int = 5) -> list[FaqMatch]:
    """Every entry's score for a text, best first (what faq_match chooses from): the admin's "try a
    question" box shows these."""
    scored = []
    for entry in entries:
        score, phrasing = entry_score(text, entry)
        scored.append(FaqMatch(entry["id"], round(score, 1), phrasing))
    scored.sort(key=lambda match: -match.score)
    return scored[:limit]
