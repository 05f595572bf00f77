"""The console and widget demo pages (interface/pages.py)."""

from __future__ import annotations

import json
import re

import pytest

from tests.factories.routing import AgentProfileFactory


def console_config(response) -> dict:
    match = re.search(r'<script id="console-config" type="application/json">(.*?)</script>', response.content.decode())
    assert match, "the console page carries its config as JSON"
    return json.loads(match.group(1))


def test_the_console_needs_a_login(client, db):
    response = client.get("/agent/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=/agent/")


def test_the_console_page_carries_the_agent_and_presence(agent_client, agent):
    AgentProfileFactory(user=agent, status="away")
    response = agent_client.get("/agent/")
    assert response.status_code == 200
    config = console_config(response)
    assert config["user"]["id"] == agent.pk
    assert config["presence"] == "away"
    assert config["ws_path"] == "/ws/v1/agent/"
    assert config["api_base"] == "/api/v1/agent/"
    assert config["pick_frame"] == "conversation.pick"
    body = response.content.decode()
    assert "agent/console.js" in body and "agent/console.css" in body
    # The console lives inside the site layout (top bar, navigation).
    assert 'class="topbar"' in body


def test_a_name_with_markup_is_escaped_in_the_config(client, db):
    from tests.factories import UserFactory

    user = UserFactory(username="markup", first_name="</script><script>alert(1)</script>")
    client.force_login(user)
    body = client.get("/agent/").content.decode()
    assert "</script><script>alert(1)" not in body
    assert console_config(client.get("/agent/"))["user"]["name"] == "</script><script>alert(1)</script>"


def test_an_agent_without_a_profile_shows_offline(agent_client):
    assert console_config(agent_client.get("/agent/"))["presence"] == "offline"


@pytest.mark.parametrize("key", ["demo", "shop-2"])
def test_the_widget_demo_embeds_the_widget_with_one_script_tag(client, db, key):
    response = client.get(f"/widget/demo/{key}/")
    assert response.status_code == 200
    body = response.content.decode()
    tags = re.findall(r"<script[^>]*>", body)
    assert tags == [f'<script src="/static/widget/widget.js" data-inbox="{key}" async>']


def test_the_widget_demo_escapes_the_inbox_key(client, db):
    body = client.get('/widget/demo/"onload=alert(1)/').content.decode()
    assert 'data-inbox=""onload' not in body
    assert "&quot;onload=alert(1)" in body


def test_the_static_files_are_served(client, db):
    for path in ("/static/widget/widget.js", "/static/widget/widget.css", "/static/agent/console.js"):
        response = client.get(path)
        assert response.status_code == 200, path
