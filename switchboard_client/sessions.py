"""Getting in over HTTP, as a person does: a widget session for a customer, the login form for an agent."""

from __future__ import annotations

import re

import httpx


async def widget_session(http: httpx.AsyncClient, base: str, inbox_key: str, name: str) -> str:
    """Open a widget session on a web inbox (`POST /api/v1/widget/{inbox_key}/sessions`, as the widget
    does); returns its session token."""
    response = await http.post(
        f"{base}/api/v1/widget/{inbox_key}/sessions", json={"name": name}, headers={"Origin": base}
    )
    if response.status_code != 201:
        raise RuntimeError(f"no widget session on {inbox_key}: {response.status_code} {response.text[:200]}")
    return response.json()["session_token"]


async def widget_tokens(base: str, inbox_key: str, count: int, name: str = "Customer") -> list[str]:
    """`count` widget sessions, one after another ("Customer 0", "Customer 1", ...); their tokens."""
    async with httpx.AsyncClient(timeout=30) as http:
        return [await widget_session(http, base, inbox_key, f"{name} {n}") for n in range(count)]


async def agent_login(base: str, username: str, password: str) -> str:
    """Log in with the login form (`/accounts/login/`, its CSRF token); returns the Cookie header value
    of the session ("sessionid=...") for the agent socket."""
    async with httpx.AsyncClient(base_url=base, follow_redirects=False, timeout=30) as http:
        page = await http.get("/accounts/login/")
        found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
        if found is None:
            raise RuntimeError(f"no login form at {base}/accounts/login/: {page.status_code}")
        response = await http.post(
            "/accounts/login/",
            data={"username": username, "password": password, "csrfmiddlewaretoken": found.group(1)},
            headers={"Referer": f"{base}/accounts/login/"},
        )
        if response.status_code != 302:
            raise RuntimeError(f"login failed for {username}: {response.status_code}")
        return f"sessionid={http.cookies['sessionid']}"
