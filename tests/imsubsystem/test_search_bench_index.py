"""The search benchmark's generator (bench/search_db.py) writes the index the app writes: the rows it
derives for a text are the tokens `imsubsystem.search` gives, and a message stored through the one write
path with the same text gets the same rows."""

from __future__ import annotations

from bench.search_db import text_tokens, texts_generate
from imsubsystem import services
from imsubsystem.models import Message, MessageToken
from imsubsystem.search import text_hashes, token_hash, words
from tests.factories import ConversationFactory


def test_the_generated_texts_mix_languages_and_are_the_same_every_run():
    texts = texts_generate(count=300)
    assert texts == texts_generate(count=300)
    assert any(t.isascii() for t in texts)
    assert any(not t.isascii() and " " not in t for t in texts)  # Chinese only
    assert any(" #" in t for t in texts)  # mixed, with an order number


def test_the_generators_index_rows_are_what_the_tokeniser_gives():
    texts = texts_generate(count=50)
    rows = text_tokens(texts)
    for number, text in enumerate(texts, 1):
        assert sorted(t for n, t in rows if n == number) == sorted(token_hash(w) for w in words(text)[0])


def test_the_generators_index_rows_are_what_the_write_path_stores(db):
    conversation = ConversationFactory()
    texts = texts_generate(count=20)
    for text in texts:
        services.message_send(conversation_id=conversation.pk, sender_kind="customer", text=text)
    rows = text_tokens(texts)
    expected = {number: sorted(t for n, t in rows if n == number) for number in range(1, 21)}
    for message in Message.objects.filter(conversation=conversation).order_by("seq"):
        stored = sorted(MessageToken.objects.filter(message=message).values_list("token", flat=True))
        assert stored == expected[message.seq] == sorted(text_hashes(message.text))
