from django.db import migrations, models
from django.db.models import DurationField, ExpressionWrapper, F


def forwards(apps, schema_editor):
    """Existing rows: the clock starts at the last known start of their wait, and an answered
    conversation waited from its first queueing to its first assignment."""
    Conversation = apps.get_model("imsubsystem", "Conversation")
    Conversation.objects.filter(queued_at__isnull=False).update(waiting_since=F("queued_at"))
    Conversation.objects.filter(first_queued_at__isnull=False, assigned_at__isnull=False).update(
        waited=ExpressionWrapper(F("assigned_at") - F("first_queued_at"), output_field=DurationField())
    )


class Migration(migrations.Migration):
    dependencies = [
        ("imsubsystem", "0003_message_delivery_retry"),
    ]

    operations = [
        migrations.AddField(
            model_name="conversation",
            name="waiting_since",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="conversation",
            name="waited",
            field=models.DurationField(blank=True, null=True),
        ),
        migrations.RunPython(forwards, migrations.RunPython.noop),
    ]
