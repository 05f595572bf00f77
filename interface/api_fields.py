"""Request fields both HTTP APIs (the widget's and the agent console's) read the same way.

A shared module, so the two APIs, which do not import each other (an import contract), check a field
once. The switch's services module is being split; when it gains a check of its own for these, this
moves there.
"""

from __future__ import annotations

from typing import Any

from core.errors import DomainError
from imsubsystem import selectors


def attachment_ids_field(data: dict[str, Any]) -> list[int]:
    """The `attachment_ids` of a fresh-links request: a list of at most selectors.LINKS_MAX integers,
    or DomainError `invalid`."""
    ids = data.get("attachment_ids")
    if not isinstance(ids, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
        raise DomainError("invalid", "attachment_ids must be a list of integers.")
    if len(ids) > selectors.LINKS_MAX:
        raise DomainError("invalid", f"Ask for at most {selectors.LINKS_MAX} attachments at once.")
    return ids
