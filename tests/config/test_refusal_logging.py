"""A refused page (403: a user without the role) logs one line, not a traceback; a server error keeps its
traceback."""

from __future__ import annotations

import io
import logging

import pytest

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def console_log():
    """What the configured console handler writes (settings.LOGGING), with its filters."""
    handler = next(h for h in logging.getLogger().handlers if type(h) is logging.StreamHandler)
    stream = io.StringIO()
    previous = handler.setStream(stream)
    yield stream
    handler.setStream(previous)


def test_an_agent_refused_a_supervisor_page_gets_403_and_one_log_line(client, console_log):
    client.force_login(UserFactory(username="agent-7"))  # the Agent role
    logged_in = len(console_log.getvalue())  # the log-in's own lines (django-axes) come before
    assert client.get("/supervisor/").status_code == 403
    assert client.get("/supervisor/").status_code == 403
    lines = [line for line in console_log.getvalue()[logged_in:].splitlines() if line.strip()]
    assert len(lines) == 2, lines
    assert all("Forbidden" in line for line in lines), lines
    assert "Traceback" not in console_log.getvalue()


def test_an_error_keeps_its_traceback(console_log):
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logging.getLogger("django.request").error(
            "Internal Server Error: /x/", exc_info=True, extra={"status_code": 500}
        )
    assert "Traceback" in console_log.getvalue() and "boom" in console_log.getvalue()
