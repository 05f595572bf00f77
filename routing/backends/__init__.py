"""The routing backend named in settings.ROUTING_BACKEND, loaded once per process (like Channels'
layers): `get_backend()` everywhere, `set_backend()` in tests to swap it."""

from __future__ import annotations

import threading

from django.conf import settings
from django.utils.module_loading import import_string

from routing.backends.base import BaseRoutingBackend

_lock = threading.Lock()
_backend: BaseRoutingBackend | None = None


def channel_kinds() -> tuple[str, ...]:
    """Every channel kind the CRM knows: the kinds a queue's agents have a capacity for."""
    # Here, not at the top: the backends load without Django's apps (bench/routing.py drives them bare),
    # and crm.models needs the app registry.
    from crm.models import ChannelKind

    return tuple(ChannelKind.values)


def backend_load(path: str | None = None, config: dict | None = None) -> BaseRoutingBackend:
    cls = import_string(path or settings.ROUTING_BACKEND)
    return cls(
        config if config is not None else getattr(settings, "ROUTING_BACKEND_CONFIG", {}), channel_kinds=channel_kinds()
    )


def get_backend() -> BaseRoutingBackend:
    global _backend
    if _backend is None:
        with _lock:
            if _backend is None:
                _backend = backend_load()
    return _backend


def set_backend(backend: BaseRoutingBackend | None) -> BaseRoutingBackend | None:
    """Use `backend` from now on (None: load from settings on next use); returns the previous one."""
    global _backend
    with _lock:
        previous, _backend = _backend, backend
    return previous
