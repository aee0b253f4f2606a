"""A row's id as the API takes it (path and query parameters, body fields).

Every id column is a PostgreSQL ``integer``: an id outside 1..2**31-1 names no row. Left to
the database such a value is compared as a wider number on PostgreSQL (an empty list) or
overflows SQLite's driver (an error), depending on the route; checked here, it is the same
422 ``validation_error`` naming the parameter everywhere, before any query runs.
"""

from __future__ import annotations

from typing import Annotated

from annotated_types import Interval

MAX_ROW_ID = 2**31 - 1

RowId = Annotated[int, Interval(ge=1, le=MAX_ROW_ID)]
"""A parameter or field naming a row by id: ``booking_id: RowId``,
``patient: Annotated[RowId | None, Query(...)] = None``."""
