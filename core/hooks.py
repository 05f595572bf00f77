"""Hook events: the one way an app tells others what happened, or asks them, without importing them.

An app that must let others act declares, in its `hooks.py` beside what it publishes, a frozen dataclass
per event (plain values only: ids, strings, numbers, times, and tuples or dicts of them, never ORM
objects; checked when the event is made: each field always, what its tuples and dicts hold when
settings.IM_FRAME_CHECK is on, as in the tests) and one `Hook` for it. Apps above subscribe in their
`AppConfig.ready`; the declaring app emits. So the dependency rule holds (docs/architecture.md): the
emitter never imports its subscribers, and every cross-app call is one of these, found by reading the
`hooks.py` files.

    # routing/hooks.py
    @dataclass(frozen=True)
    class OfferCreated(HookEvent):
        offer_id: str
        ref: int

    offer_created = Hook("routing.offer_created", OfferCreated)

    # imsubsystem/apps.py, in ready()
    offer_created.subscribe(routing_hooks.on_offer_created)

`emit` calls every subscriber in subscription order and returns their answers; an error propagates to
the emitter unless the hook is `robust` (then it is logged and the others still run), which suits
notifications whose subscribers must not fail the emitter's work. `ask` returns the first answer that is
not None (a question one subscriber answers, such as the supervisor's statistics).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Generic, TypeVar

from django.conf import settings
from django.core.signals import setting_changed

logger = logging.getLogger(__name__)

_PLAIN = (str, int, float, bool, type(None), datetime, date, timedelta, Decimal)
_SHALLOW = (*_PLAIN, tuple, list, frozenset, dict)


def _plain(value: Any) -> bool:
    if isinstance(value, _PLAIN):
        return True
    if isinstance(value, tuple | list | frozenset):
        return all(_plain(item) for item in value)
    if isinstance(value, dict):
        return all(isinstance(key, str | int) and _plain(item) for key, item in value.items())
    return False


def _shallow(value: Any) -> bool:
    return isinstance(value, _SHALLOW)


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}
_contracts_checked: bool | None = None


def contracts_checked() -> bool:
    """settings.IM_FRAME_CHECK (hook events, published frames and socket frames checked against their
    declarations: tests and development), read once and again whenever a test overrides it. Those
    checks ask for every event and frame, and Django's settings proxy answered each read in Python: 3%
    of the write path's thread at 2,000 msg/s (docs/performance.md)."""
    global _contracts_checked
    if _contracts_checked is None:
        _contracts_checked = bool(getattr(settings, "IM_FRAME_CHECK", True))
    return _contracts_checked


def _contracts_setting_changed(*, setting: str, **kwargs: Any) -> None:
    global _contracts_checked
    if setting == "IM_FRAME_CHECK":
        _contracts_checked = None


setting_changed.connect(_contracts_setting_changed, dispatch_uid="core.hooks.contracts_checked")


@dataclasses.dataclass(frozen=True)
class HookEvent:
    """Base of every hook event: a frozen dataclass of plain values."""

    def __post_init__(self) -> None:
        # Every field's own type always; what tuples and dicts hold only where contracts are checked
        # (settings.IM_FRAME_CHECK: tests and development). Walking a message's whole payload per event
        # was 4% of the write path's thread at 1,000 msg/s (docs/performance.md).
        # The field names are read once per class: `dataclasses.fields` builds its tuple on every call,
        # which with the per-field loop was 3% of the daphne process at 2,000 msg/s (docs/performance.md).
        kind = type(self)
        names = _FIELD_NAMES.get(kind)
        if names is None:
            names = _FIELD_NAMES[kind] = tuple(field.name for field in dataclasses.fields(kind))
        check = _plain if contracts_checked() else _shallow
        for name in names:
            value = getattr(self, name)
            if not check(value):
                raise TypeError(
                    f"{kind.__name__}.{name} is a {type(value).__name__}: hook events carry plain "
                    "values (ids, strings, numbers, times), never ORM objects"
                )

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


E = TypeVar("E", bound=HookEvent)


class Hook(Generic[E]):
    """One declared event and its subscribers (see the module's doc)."""

    def __init__(self, name: str, event: type[E], *, robust: bool = False) -> None:
        self.name = name
        self.event = event
        self.robust = robust
        self._subscribers: dict[str, Callable[[E], Any]] = {}

    def __repr__(self) -> str:
        return f"<Hook {self.name} ({self.event.__name__}), {len(self._subscribers)} subscribers>"

    def subscribe(self, receiver: Callable[[E], Any], *, uid: str | None = None) -> Callable[[E], Any]:
        """Add a subscriber; subscribing the same uid again replaces it (ready() may run twice in tests)."""
        self._subscribers[uid or f"{receiver.__module__}.{receiver.__qualname__}"] = receiver
        return receiver

    def unsubscribe(self, receiver: Callable[[E], Any] | None = None, *, uid: str | None = None) -> None:
        key = uid or (f"{receiver.__module__}.{receiver.__qualname__}" if receiver is not None else "")
        self._subscribers.pop(key, None)

    @property
    def subscribers(self) -> tuple[Callable[[E], Any], ...]:
        return tuple(self._subscribers.values())

    @contextmanager
    def subscribed(self, receiver: Callable[[E], Any]) -> Iterator[Callable[[E], Any]]:
        """Subscribe for the length of a block (tests)."""
        uid = f"subscribed-{id(receiver)}"
        self.subscribe(receiver, uid=uid)
        try:
            yield receiver
        finally:
            self.unsubscribe(uid=uid)

    @contextmanager
    def replaced(self, *receivers: Callable[[E], Any]) -> Iterator[None]:
        """Only these subscribers (none: nobody hears) for the length of a block (tests)."""
        saved = self._subscribers
        self._subscribers = {f"replaced-{n}": receiver for n, receiver in enumerate(receivers)}
        try:
            yield
        finally:
            self._subscribers = saved

    def _check(self, event: E) -> None:
        if not isinstance(event, self.event):
            raise TypeError(f"{self.name} carries {self.event.__name__}, not {type(event).__name__}")

    def emit(self, event: E) -> list[Any]:
        """Call every subscriber with the event; their answers in subscription order."""
        self._check(event)
        answers = []
        for receiver in tuple(self._subscribers.values()):
            if not self.robust:
                answers.append(receiver(event))
                continue
            try:
                answers.append(receiver(event))
            except Exception:
                logger.exception("Subscriber %r of %s failed", receiver, self.name)
        return answers

    def ask(self, event: E, default: Any = None) -> Any:
        """The first subscriber's answer that is not None (a question one app answers), else `default`."""
        self._check(event)
        for receiver in tuple(self._subscribers.values()):
            try:
                answer = receiver(event)
            except Exception:
                if not self.robust:
                    raise
                logger.exception("Subscriber %r of %s failed", receiver, self.name)
                continue
            if answer is not None:
                return answer
        return default
