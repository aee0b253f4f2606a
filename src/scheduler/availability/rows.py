"""A slot search's rows as loaded (``repository.load_window``): the calendar, the
commitments in the form the engine reads, and stored phases decoded once per layout."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from functools import lru_cache
from typing import Any, NamedTuple
from typing import cast as type_cast

from scheduler.availability.engine import Phase, ProviderUse


@dataclass
class ProviderRow:
    id: int
    name: str
    display_name: str
    max_concurrent_patients: int
    min_minutes_between_starts: int
    rules: list[tuple[int, time, time, date | None, date | None]] = field(default_factory=list)
    extra: list[tuple[datetime, datetime]] = field(default_factory=list)
    unavailable: list[tuple[datetime, datetime]] = field(default_factory=list)


@dataclass
class CalendarRows:
    hours: list[tuple[int, time, time]] = field(default_factory=list)
    closures: list[tuple[datetime, datetime]] = field(default_factory=list)
    chairs: list[tuple[int, int, str]] = field(default_factory=list)  # id, position, name
    providers: dict[int, ProviderRow] = field(default_factory=dict)


class CommitmentRow(NamedTuple):
    """A commitment as loaded: what the engine reads (a ``CommitmentLike``), then what the
    booking checks need besides.

    One record per row goes straight into ``SlotQuery``. A tuple because a window holds
    ~1,000 rows and a frozen dataclass cost ~1.5 us more per row to build; the shape that
    ``Commitment`` would check is guaranteed here by the columns (aware UTC instants,
    turnover from a validated type). ``phases`` are interned (see ``phases_from_json``).
    """

    start_at: datetime
    phases: tuple[Phase, ...]
    turnover_minutes: int
    chair_id: int | None
    provider_id: int | None
    kind: str  # "booking" or "hold"
    id: int
    patient_id: int | None


def to_phases(raw: Iterable[Mapping[str, Any] | Phase]) -> tuple[Phase, ...]:
    """Phases from stored JSON dicts (``minutes``, ``uses_chair``, ``provider_use``) or from
    ``Phase`` records. Equal layouts come back as the *same* tuple object: a clinic has a
    handful of layouts but thousands of commitments, and the engine caches a layout's shape by
    identity, so interning saves both the allocations and the recomputation."""
    return _interned_phases(
        tuple(
            (p.minutes, p.uses_chair, p.provider_use)
            if isinstance(p, Phase)
            else (int(p["minutes"]), bool(p["uses_chair"]), str(p["provider_use"]))
            for p in raw
        )
    )


@lru_cache(maxsize=256)
def _interned_phases(layout: tuple[tuple[int, bool, str], ...]) -> tuple[Phase, ...]:
    return tuple(
        # Phase itself rejects an unknown provider use, so the cast cannot smuggle one in.
        Phase(minutes=m, uses_chair=c, provider_use=type_cast(ProviderUse, u))
        for m, c, u in layout
    )


@lru_cache(maxsize=256)
def phases_from_json(text: str) -> tuple[Phase, ...]:
    """Interned phases from a stored JSON text, parsed once per distinct text.

    Commitments are loaded with their phases as text rather than decoded by the column type:
    a window holds ~1,000 rows but only a few distinct layouts, and decoding JSON per row was
    the largest single cost of a search. Both databases store one layout under one text (the
    application writes it, PostgreSQL normalises jsonb), and different texts of one layout
    still intern to one tuple.
    """
    return to_phases(json.loads(text))
