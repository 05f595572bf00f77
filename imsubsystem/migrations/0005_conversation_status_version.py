from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("imsubsystem", "0004_conversation_wait_clock"),
    ]

    operations = [
        migrations.AddField(
            model_name="conversation",
            name="status_version",
            field=models.PositiveIntegerField(default=0),
        ),
    ]
