"""What the switch needs of a channel layer, declared once.

Channels' own layer API (`new_channel`, `send`, `receive`, `group_add`, `group_discard`, `group_send`,
`flush`) plus what Switchboard's sockets and services use beyond it. Every backend the settings can name
satisfies all of it (realtime/fanout.py, realtime/pubsub.py, realtime/memory.py), so callers use the
named methods and never probe for them. The contract suite (tests/realtime/test_layer_contract.py) runs
against each backend; docs/realtime.md says where they differ.
"""

from __future__ import annotations

import weakref
from typing import Any, Protocol, runtime_checkable

from channels.layers import get_channel_layer
from django.core.exceptions import ImproperlyConfigured

# What a layer puts in a socket's channel instead of the messages it could not deliver (a socket too far
# behind, a Redis subscription lost and made again): the socket closes and its client resumes from
# MySQL (docs/protocol.md). Only layers that know of a loss send it (docs/realtime.md).
RESET = "sb.layer_reset"


@runtime_checkable
class SwitchLayer(Protocol):
    """A channel layer the switch can use."""

    # True when the layer's publishes share pipelined connections, so callers need not bound how many
    # sends they have in flight; False and the switch's publisher bounds them (IM_PUBLISH_CONCURRENCY).
    pipelined: bool

    async def new_channel(self, prefix: str = "specific.") -> str: ...

    async def send(self, channel: str, message: dict[str, Any]) -> None: ...

    async def receive(self, channel: str) -> dict[str, Any]: ...

    async def group_add(self, group: str, channel: str) -> None: ...

    async def group_discard(self, group: str, channel: str) -> None: ...

    async def group_send(self, group: str, message: dict[str, Any]) -> None: ...

    def group_send_blocking(self, group: str, message: dict[str, Any]) -> None:
        """group_send for code without an event loop of its own (Celery tasks, commands, plain threads)."""
        ...

    def channel_forget(self, channel: str) -> None:
        """The consumer of `channel` has ended, however it ended: drop its queue and group memberships."""
        ...

    async def flush(self) -> None: ...


# What a DirectLayer puts in a socket's own input queue when messages wait for it in the layer (once per
# wait, however many): the socket then takes them all (`take`) and handles them in order.
WAKE = "sb.layer_ready"


@runtime_checkable
class DirectLayer(Protocol):
    """What a layer may offer beyond SwitchLayer to the sockets and the publisher of the process that
    serves them (realtime/fanout.py does; channels-redis's and the in-memory layer do not, and the
    callers then use SwitchLayer's methods alone).

    A socket whose server reads its messages from a queue it can put into (daphne's input queue) waits
    on that one queue for its client's frames and for the layer: no second task, no `asyncio.wait`, no
    new task for each message, as Channels' consumer loop makes (a tenth of the event loop at 2,000
    msg/s, docs/performance.md)."""

    def group_send_nowait(self, group: str, message: dict[str, Any]) -> None:
        """group_send from the event loop's thread without waiting for Redis; the order of the calls is
        the order of delivery, here and in the other processes."""
        ...

    async def new_channel_into(self, sink: Any, prefix: str = "specific.") -> str:
        """A new channel whose arrivals are announced by one `{"type": WAKE}` message put into `sink`
        (an object with `put_nowait`) while none is pending; `take` then returns them."""
        ...

    def take(self, channel: str) -> list[dict[str, Any]]:
        """Everything waiting for `channel`, in order (a reset in place of what was lost); the next
        arrival puts a new WAKE."""
        ...


_direct: weakref.WeakKeyDictionary[Any, bool] = weakref.WeakKeyDictionary()


# DirectLayer's methods, read from the protocol itself.
_DIRECT_MEMBERS = tuple(
    name for name, member in vars(DirectLayer).items() if callable(member) and not name.startswith("_")
)


def direct_layer(layer: Any) -> DirectLayer | None:
    """`layer` when it is a DirectLayer, else None (decided once per layer, from its class: channels-redis's
    layer answers any attribute through a per-loop proxy, which needs a running loop)."""
    if layer is None:
        return None
    found = _direct.get(layer)
    if found is None:
        kind = type(layer)
        found = _direct[layer] = all(callable(getattr(kind, name, None)) for name in _DIRECT_MEMBERS)
    return layer if found else None


_checked: weakref.WeakSet[Any] = weakref.WeakSet()


def switch_layer(alias: str = "default") -> SwitchLayer | None:
    """The configured channel layer (None when CHANNEL_LAYERS names none), checked once to keep the
    protocol: a backend without one of its methods is a configuration error, said at once."""
    layer = get_channel_layer(alias)
    if layer is None or layer in _checked:
        return layer
    if not isinstance(layer, SwitchLayer):
        missing = [name for name in _members() if not hasattr(layer, name)]
        raise ImproperlyConfigured(
            f"CHANNEL_LAYERS[{alias!r}] ({type(layer).__module__}.{type(layer).__qualname__}) is not a "
            f"realtime.SwitchLayer: it lacks {', '.join(missing)} (docs/realtime.md)."
        )
    _checked.add(layer)
    return layer


def _members() -> list[str]:
    return sorted(name for name in {*SwitchLayer.__annotations__, *vars(SwitchLayer)} if not name.startswith("_"))
