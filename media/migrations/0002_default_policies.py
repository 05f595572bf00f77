from django.conf import settings
from django.db import migrations

MB = 1024 * 1024
ALL = ["image", "pdf", "audio", "video", "document", "text"]
DEFAULTS = {
    "web": (20 * MB, ALL),
    "telegram": (20 * MB, ALL),
    "whatsapp": (100 * MB, ALL),
    "wechat": (10 * MB, ALL),
    "sms": (5 * MB, ["image", "audio", "video", "pdf", "text"]),
    "api": (20 * MB, ALL),
    "email": (25 * MB, ALL),
}


def create_default_policies(apps, schema_editor):
    MediaPolicy = apps.get_model("media", "MediaPolicy")
    for kind, (max_size, families) in DEFAULTS.items():
        MediaPolicy.objects.get_or_create(
            channel_kind=kind,
            defaults={
                "max_size": min(max_size, settings.MEDIA_MAX_UPLOAD_SIZE),
                "allowed_families": families,
                "retention_days": settings.MEDIA_DEFAULT_RETENTION_DAYS,
            },
        )


class Migration(migrations.Migration):
    dependencies = [("media", "0001_initial")]

    operations = [migrations.RunPython(create_default_policies, migrations.RunPython.noop)]
