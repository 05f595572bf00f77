"""core/hooks.py: events carry plain values only, subscribers are called in order, a robust hook logs a
failing subscriber and goes on, a plain one lets the failure reach the emitter, `ask` returns the first
answer, and `replaced`/`subscribed` restore what was there."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from core.hooks import Hook, HookEvent
from crm.models import Contact


@dataclass(frozen=True)
class Ping(HookEvent):
    ref: int
    payload: dict


@dataclass(frozen=True)
class Other(HookEvent):
    ref: int


def test_an_event_refuses_what_is_not_a_plain_value():
    Ping(ref=1, payload={"at": datetime.now(UTC), "ids": [1, 2], "nested": {"ok": (True, None)}})
    with pytest.raises(TypeError, match="never ORM objects"):
        Ping(ref=1, payload={"contact": Contact(name="x")})
    with pytest.raises(TypeError):
        Ping(ref=1, payload={"ids": [object()]})


def test_outside_the_contract_checks_each_field_is_still_checked_but_not_what_it_holds(settings):
    # Production (IM_FRAME_CHECK off) checks each field's own type, not every value of a message's
    # payload on the write path's thread; the tests, with the checks on, walk everything (above).
    settings.IM_FRAME_CHECK = False
    with pytest.raises(TypeError, match="never ORM objects"):
        Ping(ref=Contact(name="x"), payload={})
    Ping(ref=1, payload={"contact": Contact(name="x")})  # unseen here: the suite's own runs catch it


def test_the_contract_setting_is_read_once_and_again_when_it_changes(settings, monkeypatch):
    """contracts_checked (the hook events', the publisher's and the sockets' checks) reads IM_FRAME_CHECK
    through Django's settings once, not per event or frame, and again after an override."""
    import core.hooks
    from core.hooks import contracts_checked

    class Unreadable:
        def __getattr__(self, name):
            raise AssertionError(f"settings.{name} read again")

    settings.IM_FRAME_CHECK = False
    assert contracts_checked() is False
    with monkeypatch.context() as patch:
        patch.setattr(core.hooks, "settings", Unreadable())
        for _ in range(3):
            assert contracts_checked() is False
            Ping(ref=1, payload={"contact": Contact(name="x")})  # the production check: fields only
    settings.IM_FRAME_CHECK = True
    assert contracts_checked() is True
    with pytest.raises(TypeError):
        Ping(ref=1, payload={"contact": Contact(name="x")})


def test_emit_calls_every_subscriber_in_order_and_checks_the_event_type():
    hook = Hook("test.ping", Ping)
    seen = []
    hook.subscribe(lambda e: seen.append(("a", e.ref)) or "a", uid="a")
    hook.subscribe(lambda e: seen.append(("b", e.ref)) or "b", uid="b")
    hook.subscribe(lambda e: seen.append(("b2", e.ref)) or "b2", uid="b")  # same uid: replaces
    assert hook.emit(Ping(ref=7, payload={})) == ["a", "b2"]
    assert seen == [("a", 7), ("b2", 7)]
    with pytest.raises(TypeError, match="carries Ping"):
        hook.emit(Other(ref=1))


def test_a_failing_subscriber_reaches_the_emitter_unless_the_hook_is_robust(caplog):
    def broken(event):
        raise RuntimeError("down")

    plain = Hook("test.plain", Ping)
    plain.subscribe(broken, uid="broken")
    with pytest.raises(RuntimeError):
        plain.emit(Ping(ref=1, payload={}))

    robust = Hook("test.robust", Ping, robust=True)
    robust.subscribe(broken, uid="broken")
    robust.subscribe(lambda e: "after", uid="after")
    assert robust.emit(Ping(ref=1, payload={})) == ["after"]
    assert "test.robust" in caplog.text


def test_ask_returns_the_first_answer_that_is_not_none_else_the_default():
    hook = Hook("test.ask", Other)
    assert hook.ask(Other(ref=1), "default") == "default"
    hook.subscribe(lambda e: None, uid="silent")
    hook.subscribe(lambda e: e.ref * 2, uid="answers")
    hook.subscribe(lambda e: "never asked", uid="late")
    assert hook.ask(Other(ref=4)) == 8


def test_replaced_and_subscribed_restore_the_subscribers_after_the_block():
    hook = Hook("test.scoped", Other)
    hook.subscribe(lambda e: "own", uid="own")
    with hook.replaced():
        assert hook.emit(Other(ref=1)) == []
    with hook.replaced(lambda e: "stand-in"):
        assert hook.emit(Other(ref=1)) == ["stand-in"]
    with hook.subscribed(lambda e: "extra"):
        assert hook.emit(Other(ref=1)) == ["own", "extra"]
    assert hook.emit(Other(ref=1)) == ["own"]
