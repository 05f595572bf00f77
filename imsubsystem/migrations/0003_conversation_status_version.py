from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("imsubsystem", "0002_message_buttons"),
    ]

    operations = [
        migrations.AddField(
            model_name="conversation",
            name="status_version",
            field=models.PositiveIntegerField(default=0),
        ),
    ]
