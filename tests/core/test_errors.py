"""Which database errors mean "the database is away for a moment" (core.errors.database_unreachable)."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, IntegrityError, InterfaceError, OperationalError

from core.errors import database_unreachable


@pytest.mark.parametrize(
    ("exc", "unreachable"),
    [
        (OperationalError(2002, "Can't connect to server on '127.0.0.1' (115)"), True),
        (OperationalError(2006, "Server has gone away"), True),
        (OperationalError(2013, "Lost connection to server during query"), True),
        (OperationalError(1053, "Server shutdown in progress"), True),
        (InterfaceError(0, ""), True),
        # The database answered and refused: the same request would fail again.
        (OperationalError(1054, "Unknown column 'x' in 'field list'"), False),
        (OperationalError(1213, "Deadlock found when trying to get lock"), False),
        (OperationalError(), False),
        (IntegrityError(1062, "Duplicate entry"), False),
        (DatabaseError("anything"), False),
        (ValueError("not a database error"), False),
    ],
)
def test_database_unreachable(exc, unreachable):
    assert database_unreachable(exc) is unreachable
