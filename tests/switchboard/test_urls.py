"""Every URL pattern answers its own paths: no pattern is hidden behind an earlier one of the same path
(a page that can never be reached), and the project-wide pages are the project app's."""

from __future__ import annotations

import uuid

from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.urls.resolvers import RoutePattern


def _route_patterns(patterns, prefix: str = "", namespace: str = ""):
    """(route, pattern) of every path() reachable from the root, with the routes of its includes joined."""
    for entry in patterns:
        if not isinstance(entry.pattern, RoutePattern):
            continue  # Django's own regex patterns (the admin's): not ours to order
        route = prefix + str(entry.pattern._route)
        if isinstance(entry, URLResolver):
            inner = ":".join(part for part in (namespace, entry.namespace) if part)
            if inner == "admin":
                continue
            yield from _route_patterns(entry.url_patterns, route, inner)
        elif isinstance(entry, URLPattern):
            yield route, entry


def _fill(route: str) -> str:
    """A concrete path for a route: each `<kind:name>` by a sample its converter accepts."""
    out, rest = "", route
    while "<" in rest:
        before, _, tail = rest.partition("<")
        spec, _, rest = tail.partition(">")
        kind = spec.split(":", 1)[0] if ":" in spec else "str"
        out += before + {"int": "7", "slug": "a-slug", "uuid": str(uuid.UUID(int=7)), "path": "some/path"}.get(
            kind, "value"
        )
    return "/" + out + rest


def test_no_url_pattern_is_hidden_behind_another():
    hidden = []
    routes = list(_route_patterns(get_resolver().url_patterns))
    assert len(routes) > 20  # the walk found the apps' pages, not an empty list
    for route, pattern in routes:
        match = resolve(_fill(route))
        if match.func is not pattern.callback:
            hidden.append(f"{route} ({pattern.name}) answered by {match.view_name}")
    assert hidden == []


def test_the_project_pages_are_the_project_apps():
    for path in ("/", "/healthz", "/metrics", "/accounts/login/", "/accounts/logout/"):
        assert resolve(path).func.__module__.split(".")[0] in ("switchboard", "django"), path
    assert resolve("/").func.__module__ == "switchboard.views"
    assert resolve("/supervisor/").func.__module__ == "supervisor.views"
