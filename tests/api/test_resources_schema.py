"""The OpenAPI document describes the resource endpoints exactly enough to fuzz: generated without a
warning, valid, and naming each operation's parameters and responses."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.test import Client

pytestmark = pytest.mark.django_db
BASE = "/api/rest/v1"


def test_the_document_generates_without_a_warning_and_validates(tmp_path):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))


def test_the_resource_operations_are_described():
    paths = Client().get(f"{BASE}/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()["paths"]
    expected = {
        "/contacts": {"get", "post"},
        "/contacts/{id}": {"get", "patch"},
        "/contacts/{id}/merge": {"post"},
        "/contacts/{id}/identities": {"get", "post"},
        "/contacts/{id}/identities/{identity_id}": {"delete"},
        "/queues": {"get"},
        "/queues/{id}": {"get"},
        "/teams": {"get"},
        "/teams/{id}": {"get"},
        "/agents": {"get"},
        "/agents/{id}": {"get"},
        "/agents/{id}/presence": {"post"},
        "/canned-responses": {"get", "post"},
        "/canned-responses/{id}": {"get", "patch", "delete"},
        "/reports/{kind}": {"get"},
    }
    for path, methods in expected.items():
        assert set(paths[BASE + path]) - {"parameters"} == methods, path
    report = paths[f"{BASE}/reports/{{kind}}"]["get"]
    assert set(report["responses"]["200"]["content"]) == {"application/json", "text/csv"}
    assert {p["name"] for p in report["parameters"]} == {"kind", "from", "to", "period", "queue", "team", "format"}
    contact_filters = {p["name"] for p in paths[f"{BASE}/contacts"]["get"]["parameters"]}
    assert contact_filters >= {"search", "tag", "created_after", "created_before", "updated_after", "updated_before"}
