"""Demo inboxes and canned responses for `manage.py seed_demo` (idempotent: safe to run again).

The secrets are the public demo values of CONTRACT.md, never real ones.
"""

from __future__ import annotations

from imsubsystem.models import CannedResponse, CloseReason, Inbox, Label
from imsubsystem.selectors import webhook_path
from routing.models import Queue

DEMO_SECRET = "switchboard-demo-secret"
LOCAL_ORIGINS = ["http://127.0.0.1:8000", "http://localhost:8000"]

# The web inbox whose bot flow is always out of hours (bots/demo.py), to show that path at any hour.
AFTER_HOURS_KEY = "demo-after-hours"

DEMO_INBOXES = [
    ("demo", "web", "Website chat", {"allowed_origins": LOCAL_ORIGINS}, {}),
    (AFTER_HOURS_KEY, "web", "Website chat (out of hours)", {"allowed_origins": LOCAL_ORIGINS}, {}),
    ("demo-telegram", "telegram", "Telegram", {}, {"bot_token": "000000:demo-token", "secret_token": DEMO_SECRET}),
    (
        "demo-whatsapp",
        "whatsapp",
        "WhatsApp",
        {
            "phone_number_id": "000000000000000",
            "templates": [
                {
                    "name": "follow_up",
                    "language": "en_US",
                    "params": 2,
                    "text": "Hello {{1}}, we have an update on your request {{2}}. Reply here to continue.",
                }
            ],
        },
        {"app_secret": DEMO_SECRET, "verify_token": "switchboard-demo-verify", "access_token": "demo-access-token"},
    ),
    (
        "demo-wechat",
        "wechat",
        "WeChat official account",
        {"app_id": "wx0000000000000000"},
        {
            "token": "switchboard",
            "app_id": "wx0000000000000000",
            "encoding_aes_key": "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
            "app_secret": "demo-app-secret",
        },
    ),
    (
        "demo-twilio",
        "sms",
        "SMS (Twilio)",
        {"from_number": "+15550000000"},
        {"account_sid": "AC00000000000000000000000000000000", "auth_token": DEMO_SECRET},
    ),
    ("demo-api", "api", "API channel", {}, {"secret": DEMO_SECRET}),
]

DEMO_CANNED = [
    ("hello", "Greeting", "Hello! Thanks for getting in touch. How can I help you today?"),
    ("wait", "One moment", "Thanks for waiting. I am looking into this now and will be right back."),
    ("refund", "Refund policy", "You can return any item within 30 days for a full refund. I can start that for you."),
    ("bye", "Closing", "Is there anything else I can help with? Have a great day!"),
]

DEMO_LABELS = [
    ("VIP", "#b91c1c", "A customer we take extra care of."),
    ("Refund", "#047857", "Asks for money back."),
    ("Bug", "#1d4ed8", "Reports something broken."),
]
DEMO_CLOSE_REASONS = [("solved", "Solved"), ("no-reply", "Customer stopped replying"), ("spam", "Spam")]


def seed(*, stdout=None) -> None:
    support = Queue.objects.filter(name="Support").first() or Queue.objects.get_or_create(name="Support")[0]
    for key, kind, name, config, credentials in DEMO_INBOXES:
        inbox, created = Inbox.objects.get_or_create(
            key=key,
            defaults={
                "kind": kind,
                "name": name,
                "default_queue": support,
                "config": config,
                "credentials": credentials,
            },
        )
        if not created and not inbox.credentials:
            inbox.credentials = credentials
            inbox.save(update_fields=["credentials"])
    for shortcut, title, text in DEMO_CANNED:
        CannedResponse.objects.get_or_create(shortcut=shortcut, owner=None, defaults={"title": title, "text": text})
    for name, colour, description in DEMO_LABELS:
        Label.objects.get_or_create(name=name, defaults={"colour": colour, "description": description})
    for position, (code, name) in enumerate(DEMO_CLOSE_REASONS):
        CloseReason.objects.get_or_create(code=code, defaults={"name": name, "position": position})
    if stdout:
        stdout.write(f"  inboxes: {', '.join(k for k, *_ in DEMO_INBOXES)} (widget demo: /widget/demo/demo/)")


def describe(*, base: str) -> list[str]:
    """For `manage.py describe_urls`: each demo inbox's page or webhook URL and its demo secrets, as
    stored. An inbox whose secrets were changed in the admin no longer holds demo values: they are not
    printed. Nothing for an inbox that is not there (seed_demo not run)."""
    inboxes = {inbox.key: inbox for inbox in Inbox.objects.filter(key__in=[k for k, *_ in DEMO_INBOXES])}
    lines = ["Demo inboxes (their secrets are public demo values):"]
    for key, kind, name, _config, credentials in DEMO_INBOXES:
        inbox = inboxes.get(key)
        if inbox is None:
            continue
        if kind == "web":
            lines.append(f"  {name:<28} widget page {base}/widget/demo/{key}/  (inbox key {key})")
            continue
        lines.append(f"  {name:<28} webhook {base}{webhook_path(inbox)}")
        if inbox.credentials == credentials:
            lines.extend(f"      {field:<18} {value}" for field, value in credentials.items())
        else:
            lines.append("      secrets changed in the admin: not shown")
    return lines if len(lines) > 1 else []
