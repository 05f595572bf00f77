"""The message search's index (docs/imsubsystem.md, "Search"). A new, empty table: creating it locks no
existing table. Stored messages are indexed here only on a small installation (the embedded profile, a
trial); a large one runs `manage.py search_reindex` after the upgrade, in batches, with the server up
(docs/deployment.md, "Search index")."""

import django.db.models.deletion
from django.db import migrations, models

# Above this many messages the migration leaves the backfill to `manage.py search_reindex`.
BACKFILL_IN_MIGRATION_MAX = 20_000


def backfill_small(apps, schema_editor):
    from imsubsystem.search import text_hashes

    Message = apps.get_model("imsubsystem", "Message")
    if Message.objects.count() > BACKFILL_IN_MIGRATION_MAX:
        return
    connection = schema_editor.connection
    quote = connection.ops.quote_name
    head = f"INSERT INTO {quote('imsubsystem_messagetoken')} ({quote('message_id')}, {quote('token')}) VALUES "
    after = 0
    while True:
        batch = list(Message.objects.filter(pk__gt=after).order_by("pk").values_list("pk", "text")[:500])
        if not batch:
            return
        rows = [(pk, token) for pk, text in batch for token in text_hashes(text)]
        for start in range(0, len(rows), 5000):
            chunk = rows[start : start + 5000]
            with connection.cursor() as cursor:
                cursor.execute(head + ", ".join(["(%s, %s)"] * len(chunk)), [v for row in chunk for v in row])
        after = batch[-1][0]


class Migration(migrations.Migration):
    dependencies = [
        ("imsubsystem", "0006_stats_window_indexes"),
    ]

    operations = [
        migrations.CreateModel(
            name="MessageToken",
            fields=[
                (
                    "pk",
                    models.CompositePrimaryKey(
                        "message", "token", blank=True, editable=False, primary_key=True, serialize=False
                    ),
                ),
                ("token", models.BigIntegerField()),
                (
                    "message",
                    models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="imsubsystem.message",
                    ),
                ),
            ],
            options={
                "indexes": [models.Index(fields=["token", "message"], name="im_msgtoken_token")],
            },
        ),
        migrations.RunPython(backfill_small, migrations.RunPython.noop, elidable=True),
    ]
