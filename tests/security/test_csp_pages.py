"""Every page carries the Content-Security-Policy, strict for scripts and styles, and none of them
needs an exception: no inline script, event handler, <style> element or style attribute anywhere
(the customer widget's demo page, the console, the supervisor pages, CRM, log-in and every admin page)."""

from __future__ import annotations

import re

import pytest
from django.contrib import admin
from django.urls import NoReverseMatch, reverse

from crm.roles import ADMIN, AGENT, SUPERVISOR
from imsubsystem import services as switch
from supervisor.models import Team
from tests.factories import ContactFactory, InboxFactory, QueueFactory, TagFactory, UserFactory

pytestmark = pytest.mark.django_db

INLINE = [
    ("inline script", re.compile(r"<script\b(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", re.I)),
    ("event handler attribute", re.compile(r"<[a-z][^>]*\son[a-z]+\s*=", re.I)),
    ("style element", re.compile(r"<style\b", re.I)),
    ("style attribute", re.compile(r"<[a-z][^>]*\sstyle\s*=", re.I)),
    ("javascript: URL", re.compile(r"(href|src|action)\s*=\s*[\"']?\s*javascript:", re.I)),
]


def assert_strict(response, path: str) -> None:
    policy = response.get("Content-Security-Policy", "")
    directives = dict([*d.strip().split(" ", 1), ""][:2] for d in policy.split(";") if d.strip())
    assert directives.get("script-src") == "'self'", (path, policy)
    assert directives.get("style-src") == "'self'", (path, policy)
    assert directives.get("object-src") == "'none'" and directives.get("frame-ancestors") == "'none'", path
    if "text/html" in response.get("Content-Type", ""):
        html = response.content.decode()
        for what, pattern in INLINE:
            match = pattern.search(html)
            assert match is None, f"{path}: {what}: {match.group(0)[:200] if match else ''}"


@pytest.fixture
def world():
    queue = QueueFactory(name="Sales")
    inbox = InboxFactory(key="csp-web", kind="web", default_queue=queue)
    contact = ContactFactory(name="Ann <b>Tagged</b>")
    contact.tags.set([TagFactory(name="vip", color="#b42318")])
    supervisor = UserFactory(username="csp-sup", role=SUPERVISOR)
    team = Team.objects.create(name="Sales team")
    team.supervisors.set([supervisor])
    team.queues.set([queue])
    conversation_id = switch.conversation_for_customer(inbox_id=inbox.pk, contact_id=contact.pk)
    return {
        "inbox": inbox,
        "contact": contact,
        "conversation_id": conversation_id,
        "agent": UserFactory(username="csp-agent", role=AGENT),
        "supervisor": supervisor,
        "admin": UserFactory(username="csp-admin", role=ADMIN, is_staff=True, is_superuser=True),
    }


def test_anonymous_pages(client, world):
    for path in ("/accounts/login/", "/admin/login/", f"/widget/demo/{world['inbox'].key}/", "/healthz", "/nowhere/"):
        assert_strict(client.get(path), path)
    response = client.post(f"/api/v1/widget/{world['inbox'].key}/sessions", data="{}", content_type="application/json")
    assert response.status_code == 201
    assert_strict(response, "widget session API")


def test_agent_pages(client, world):
    client.force_login(world["agent"])
    paths = ("/agent/", "/crm/contacts/", f"/crm/contacts/{world['contact'].pk}/", "/api/v1/agent/queue")
    for path in (*paths, "/account/", "/api/rest/v1/docs", "/api/rest/v1/docs?script", "/api/rest/v1/me"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert_strict(response, path)
    response = client.post("/account/tokens", {"name": "csp", "scope": "read"})
    assert response.status_code == 200 and b"new-token-key" in response.content
    assert_strict(response, "the account page with a new key")


def test_supervisor_pages(client, world):
    client.force_login(world["supervisor"])
    paths = [
        "/supervisor/",
        "/supervisor/reports/",
        "/supervisor/staffing/",
        f"/supervisor/conversations/{world['conversation_id']}/",
    ]
    for path in paths:
        response = client.get(path)
        assert response.status_code == 200, path
        assert_strict(response, path)


def test_every_admin_page(client, world):
    client.force_login(world["admin"])
    paths = ["/admin/"]
    for model, model_admin in admin.site._registry.items():
        opts = model._meta
        for view in ("changelist", "add"):
            try:
                paths.append(reverse(f"admin:{opts.app_label}_{opts.model_name}_{view}"))
            except NoReverseMatch:
                continue
        obj = model_admin.get_queryset(_request(world["admin"])).first()
        if obj is not None:
            paths.append(reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk]))
    assert len(paths) > 20
    for path in paths:
        response = client.get(path)
        assert response.status_code in (200, 403), (path, response.status_code)
        assert_strict(response, path)


def _request(user):
    from django.test import RequestFactory

    request = RequestFactory().get("/admin/")
    request.user = user
    return request
