"""Demo data for `manage.py seed_demo` (idempotent)."""


def seed(*, stdout=None) -> None:
    return None
