"""Demo data for `manage.py seed_demo` (idempotent): a media policy for every channel kind."""

from media.services import media_policies_ensure


def seed(*, stdout=None) -> None:
    created = media_policies_ensure()
    if stdout and created:
        stdout.write(f"  media policies: {', '.join(created)}")
