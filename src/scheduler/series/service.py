"""Treatment series: the functions the API and the pages call, by responsibility.

- ``series.planning``: where a course would go, or which visit cannot be placed and why,
  with the nearest alternatives (``preview_series``; changes nothing);
- ``series.booking``: book every visit of the placement in one transaction, or none
  (``create_series``, ``write_visits``);
- ``series.managing``: list and read series with progress, cancel the rest, move one visit
  within the rules;
- ``series.boosters``: after the course, propose boosters and book one in the series.
"""

from __future__ import annotations

from scheduler.series.booking import create_series, write_visits
from scheduler.series.boosters import book_booster, propose_boosters
from scheduler.series.managing import (
    cancel_series,
    get_series,
    list_series,
    reschedule_visit,
    spacing_problem,
)
from scheduler.series.planning import preview_series

__all__ = [
    "book_booster",
    "cancel_series",
    "create_series",
    "get_series",
    "list_series",
    "preview_series",
    "propose_boosters",
    "reschedule_visit",
    "spacing_problem",
    "write_visits",
]
