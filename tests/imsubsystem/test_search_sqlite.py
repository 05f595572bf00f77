"""The message search in the embedded profile (SQLite), in a fresh interpreter with that profile's settings,
as `make run` starts it: the same index and the same queries as on MySQL (docs/imsubsystem.md, "Search")."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.config.test_settings_profiles import ROOT, load_env

SCRIPT = r"""
import io, json, django
django.setup()
from django.core.management import call_command
from crm import selectors as crm_selectors
from crm.roles import AGENT
from imsubsystem import selectors, services
from imsubsystem.models import MessageToken
from tests.factories import ContactFactory, ConversationFactory, UserFactory

call_command("migrate", verbosity=0)
mine = UserFactory(username="agent-1", role=AGENT)
theirs = UserFactory(username="agent-2", role=AGENT)
lin = ContactFactory(name="Lin")
conversation = ConversationFactory(assignee=mine, contact=lin)
for text in ("我想申请退款，订单号12345", "My REFUND, order A-778"):
    services.message_send(conversation_id=conversation.pk, sender_kind="customer", text=text)

def texts(user, query):
    return [m["text"] for m in selectors.messages_search(user=user, query=query)]

from django.db import connection
out = {
    "vendor": connection.vendor,
    "refund_zh": texts(mine, "退款"),
    "refund_en": texts(mine, "refund"),
    "digits": texts(mine, "12345"),
    "mixed": texts(mine, "订单号12345"),
    "theirs": texts(theirs, "退款"),
    "contacts": [c.name for c in crm_selectors.contact_search(query="退款", user=mine)],
}
try:
    selectors.messages_search(user=mine, query="退")
except Exception as exc:
    out["one_char"] = [exc.code, exc.extra.get("reason")]
# The migration indexes what a small installation already holds; the command rebuilds the rest.
call_command("migrate", "imsubsystem", "0006", verbosity=0)
call_command("migrate", verbosity=0)
out["after_migration"] = texts(mine, "退款")
MessageToken.objects.all().delete()
call_command("search_reindex", "--no-progress", stdout=io.StringIO())
out["after_reindex"] = texts(mine, "退款")
print(json.dumps(out))
"""


def test_search_in_the_embedded_profile(tmp_path):
    env = load_env(tmp_path, SQLITE_PATH=str(tmp_path / "db.sqlite3"))
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out == {
        "vendor": "sqlite",
        "refund_zh": ["我想申请退款，订单号12345"],
        "refund_en": ["My REFUND, order A-778"],
        "digits": ["我想申请退款，订单号12345"],
        "mixed": ["我想申请退款，订单号12345"],
        "theirs": [],
        "contacts": ["Lin"],
        "one_char": ["invalid", "query_too_short"],
        "after_migration": ["我想申请退款，订单号12345"],
        "after_reindex": ["我想申请退款，订单号12345"],
    }
