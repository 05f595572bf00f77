import json
import logging

import pytest

from config.logging import JsonFormatter
from core.metrics import MESSAGES_IN

pytestmark = pytest.mark.django_db


def test_metrics_endpoint_reports_counters_and_shared_state(client):
    from routing.models import Queue

    Queue.objects.create(name="Billing")
    before = MESSAGES_IN.labels(sender_kind="customer", channel="web")._value.get()
    MESSAGES_IN.labels(sender_kind="customer", channel="web").inc()
    response = client.get("/metrics", REMOTE_ADDR="127.0.0.1")
    assert response.status_code == 200
    text = response.content.decode()
    assert f'switchboard_messages_in_total{{channel="web",sender_kind="customer"}} {before + 1}' in text
    assert 'switchboard_queue_waiting{queue="Billing"} 0.0' in text
    assert 'switchboard_celery_queue_length{queue="gateway"}' in text
    assert "switchboard_offers_open 0.0" in text


def test_metrics_refused_from_elsewhere(client):
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.9").status_code == 403


def test_json_log_lines_carry_conversation_ids():
    record = logging.LogRecord("imsubsystem", logging.INFO, __file__, 1, "message stored", None, None)
    record.conversation_id = 42
    record.message_id = 7
    line = json.loads(JsonFormatter().format(record))
    assert line["msg"] == "message stored" and line["conversation_id"] == 42 and line["message_id"] == 7
    assert line["level"] == "INFO" and line["logger"] == "imsubsystem"
