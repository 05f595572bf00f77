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
