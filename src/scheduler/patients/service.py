"""Patients: the people being treated (rules; no FastAPI here).

Patients are never deleted: bookings, series and the audit trail refer to them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlmodel import Session

from scheduler.audit.service import audited_write, events_of, snapshot
from scheduler.auth.actors import Actor
from scheduler.bookings import repository as bookings_repository
from scheduler.errors import Conflict, InvalidInput, NotFound, PreconditionFailed
from scheduler.kit.written_dates import parse_written_date
from scheduler.models import Booking, Patient
from scheduler.patients import repository
from scheduler.patients.schemas import PatientCreate, PatientMerge, PatientUpdate

MAX_SEARCH_TERMS = 5
_BOOKING_SECRETS = frozenset({"manage_token_hash"})
# The last time zones to leave a date (UTC+14) are the first to enter it: a birth date is in the
# future only once it is in the future everywhere, whatever zone the clinic is in.
_EARLIEST_OFFSET = timedelta(hours=14)


def _check_birth_date(date_of_birth: date, now: datetime) -> None:
    if date_of_birth > (now + _EARLIEST_OFFSET).date():
        raise InvalidInput("date_of_birth cannot be in the future.", field="date_of_birth")


def search_terms(q: str | None) -> list[str]:
    """Whitespace-separated terms of a search; "jane doe" finds Jane Doe and Doe, Jane."""
    if not q:
        return []
    return q.split()[:MAX_SEARCH_TERMS]


def get_patient(session: Session, patient_id: int) -> Patient:
    patient = session.get(Patient, patient_id)
    if patient is None:
        raise NotFound(f"Patient {patient_id} does not exist.")
    return patient


def get_patient_for(session: Session, patient_id: int, *, viewer: Actor) -> Patient:
    """The patient, as far as ``viewer`` may see: a provider sees only their own patients
    (anyone with a booking with them); anyone else gets the same 404 as for a missing id."""
    patient = get_patient(session, patient_id)
    if viewer.role == "provider" and not repository.has_booking_with(
        session, patient_id=patient_id, provider_id=viewer.provider_id
    ):
        raise NotFound(f"Patient {patient_id} does not exist.")
    return patient


def list_patients(
    session: Session,
    *,
    q: str | None,
    date_of_birth: date | None,
    viewer: Actor,
    limit: int,
    offset: int,
    probable_duplicate: bool | None = None,
) -> tuple[list[Patient], int]:
    """The patients ``viewer`` may see that match: a provider's own patients only (anyone
    with a booking with them, as ``get_patient_for``), anyone else's all of them."""
    own_provider = None
    if viewer.role == "provider":
        if viewer.provider_id is None:
            return [], 0
        own_provider = viewer.provider_id
    return repository.list_patients(
        session,
        terms=search_terms(q),
        date_of_birth=date_of_birth,
        booked_with_provider_id=own_provider,
        limit=limit,
        offset=offset,
        probable_duplicate=probable_duplicate,
    )


def create_patient(
    session: Session, data: PatientCreate, *, actor: Actor, now: datetime
) -> Patient:
    _check_birth_date(data.date_of_birth, now)
    patient = Patient(
        **data.model_dump(exclude={"email"}),
        email=data.email or "",
        created_at=now,
        updated_at=now,
    )
    audited_write(
        session,
        patient,
        actor=actor,
        now=now,
        action="patient.create",
        entity_type="patient",
    )
    return patient


def update_patient(
    session: Session,
    patient_id: int,
    data: PatientUpdate,
    *,
    actor: Actor,
    now: datetime,
    reason: str = "",
    unchanged_since: datetime | None = None,
) -> Patient:
    """Change the details given. ``unchanged_since`` (the ``updated_at`` the editor saw):
    when the record changed after it, nothing is written (412 ``version_conflict``), so one
    receptionist's save never silently undoes another's."""
    patient = get_patient(session, patient_id)
    if unchanged_since is not None and patient.updated_at != unchanged_since:
        raise PreconditionFailed(
            f"Patient {patient_id} was changed by someone else since it was opened."
        )
    before = snapshot(patient)
    changes = data.model_dump(exclude_unset=True)
    if "date_of_birth" in changes:
        _check_birth_date(changes["date_of_birth"], now)
    if "email" in changes:
        changes["email"] = changes["email"] or ""
    for key, value in changes.items():
        setattr(patient, key, value)
    patient.updated_at = now
    audited_write(
        session,
        patient,
        actor=actor,
        now=now,
        action="patient.update",
        entity_type="patient",
        before=before,
        reason=reason,
    )
    return patient


# The largest id an integer primary key holds (PostgreSQL's ``integer``).
MAX_ROW_ID = 2**31 - 1


def merge_patients(
    session: Session, patient_id: int, data: PatientMerge, *, actor: Actor, now: datetime
) -> Patient:
    """Fold the record ``data.duplicate_id`` into ``patient_id`` (the record kept).

    The duplicate's bookings (every status: history stays with the person), holds and series
    move to the kept record; the kept record's own details and eligibility flags stay as they
    are (the duplicate's, typed by someone online, prove nothing). The duplicate is not
    deleted: it is marked ``merged_into_id`` and no longer flagged. Refused with 409
    ``patient_conflict``, writing nothing, when an active booking of one overlaps an active
    booking of the other; 409 ``already_merged`` when either record was merged before.
    Audited: one event per record and one per moved booking.
    """
    duplicate_id = data.duplicate_id
    if duplicate_id == patient_id:
        raise InvalidInput("A patient cannot be merged into itself.", field="duplicate_id")
    # Ids beyond the id column's range name nobody; checked before they reach the locks
    # (an advisory lock's key is an integer too, and PostgreSQL refuses a larger one).
    if not 1 <= patient_id <= MAX_ROW_ID:
        raise NotFound(f"Patient {patient_id} does not exist.")
    if not 1 <= duplicate_id <= MAX_ROW_ID:
        raise InvalidInput(f"Patient {duplicate_id} does not exist.", field="duplicate_id")
    # The patient advisory locks every booking takes, then the rows: no booking for either
    # record can be written while they are compared and moved.
    bookings_repository.lock_resources(
        session, location_ids=[], provider_ids=[], patient_ids=[patient_id, duplicate_id]
    )
    rows = {p.id: p for p in repository.lock_patients(session, [patient_id, duplicate_id])}
    kept, duplicate = rows.get(patient_id), rows.get(duplicate_id)
    if kept is None:
        raise NotFound(f"Patient {patient_id} does not exist.")
    if duplicate is None:
        raise InvalidInput(f"Patient {duplicate_id} does not exist.", field="duplicate_id")
    for row in (kept, duplicate):
        if row.merged_into_id is not None:
            raise Conflict(
                f"Patient {row.id} was already merged into patient {row.merged_into_id}.",
                code="already_merged",
            )
    mine = repository.active_bookings_of(session, patient_id)
    for theirs in repository.active_bookings_of(session, duplicate_id):
        for booking in mine:
            if booking.start_at < theirs.end_at and theirs.start_at < booking.end_at:
                raise Conflict(
                    f"Merging would give the patient overlapping visits (bookings {booking.id} "
                    f"and {theirs.id}); cancel or move one first.",
                    code="patient_conflict",
                    extra={"booking_ids": [booking.id, theirs.id]},
                )
    kept_before, duplicate_before = snapshot(kept), snapshot(duplicate)
    moved: list[int] = []
    for booking in repository.bookings_of(session, duplicate_id):
        before = snapshot(booking, exclude=_BOOKING_SECRETS)
        booking.patient_id = patient_id
        booking.version += 1
        booking.sequence += 1
        booking.updated_at = now
        audited_write(
            session,
            booking,
            actor=actor,
            now=now,
            action="booking.patient_merged",
            entity_type="booking",
            before=before,
            exclude=_BOOKING_SECRETS,
            reason=f"patient {duplicate_id} merged into patient {patient_id}",
        )
        moved.append(booking.id or 0)
    holds, series = repository.move_holds_and_series(
        session, from_id=duplicate_id, to_id=patient_id
    )
    repository.repoint_duplicates(session, from_id=duplicate_id, to_id=patient_id)
    duplicate.merged_into_id = patient_id
    duplicate.probable_duplicate_of_id = None
    duplicate.updated_at = now
    if kept.probable_duplicate_of_id == duplicate_id:
        kept.probable_duplicate_of_id = None
    kept.updated_at = now
    summary = {"bookings": moved, "holds": holds, "series": series}
    audited_write(
        session,
        kept,
        actor=actor,
        now=now,
        action="patient.merge",
        entity_type="patient",
        before=kept_before,
        after=lambda: {**(snapshot(kept) or {}), "merged_from": duplicate_id, "moved": summary},
    )
    audited_write(
        session,
        duplicate,
        actor=actor,
        now=now,
        action="patient.merged_into",
        entity_type="patient",
        before=duplicate_before,
    )
    return kept


# --- Finding a patient from one search box (the front desk's pages) -----------------------

_PHONE_LIKE = re.compile(r"^\+?\(?[0-9][0-9 ().-]*$")
# Fewer digits than this are too common to search phone numbers by on their own.
MIN_PHONE_DIGITS = 3
# A number typed with the North American country code finds one stored without it.
_NANP_LENGTH = 11


@dataclass(frozen=True)
class PatientSearch:
    """What one search box asked for: words (in name, e-mail or phone), a date of birth,
    and phone numbers (as digits, compared whatever the separators)."""

    terms: list[str] = field(default_factory=list)
    date_of_birth: date | None = None
    phone_digits: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.terms or self.date_of_birth or self.phone_digits)


def _digits(text: str) -> str:
    digits = re.sub(r"\D", "", text)
    if len(digits) == _NANP_LENGTH and digits.startswith("1"):
        digits = digits[1:]
    return digits


def parse_search(text: str, *, today: date) -> PatientSearch:
    """Read a search box: the whole of it as a date of birth (``5/17/1980``, ``May 17,
    1980``...) or a phone number in any format (``(303) 555-0142``, ``+1 303 555 0142``);
    otherwise word by word, each word a date, a phone number (digits and separators, at
    least three digits) or a word to find in the name, e-mail or phone."""
    value = " ".join(text.split())
    if not value:
        return PatientSearch()
    whole_date = parse_written_date(value, today)
    if whole_date is not None:
        return PatientSearch(date_of_birth=whole_date)
    if _PHONE_LIKE.match(value) and len(_digits(value)) >= MIN_PHONE_DIGITS:
        return PatientSearch(phone_digits=[_digits(value)])
    terms: list[str] = []
    phones: list[str] = []
    born: date | None = None
    for word in value.split()[: MAX_SEARCH_TERMS * 2]:
        as_date = parse_written_date(word, today)
        if as_date is not None and born is None:
            born = as_date
        elif _PHONE_LIKE.match(word) and len(_digits(word)) >= MIN_PHONE_DIGITS:
            phones.append(_digits(word))
        else:
            terms.append(word)
    return PatientSearch(
        terms=terms[:MAX_SEARCH_TERMS], date_of_birth=born, phone_digits=phones[:MAX_SEARCH_TERMS]
    )


def find_patients(
    session: Session, text: str, *, viewer: Actor, now: datetime, limit: int
) -> tuple[PatientSearch, list[Patient], int]:
    """The patients matching a search box (``parse_search``), merged records left out, as
    far as ``viewer`` may see (as ``list_patients``)."""
    search = parse_search(text, today=now.date())
    if not search:
        return search, [], 0
    own_provider = None
    if viewer.role == "provider":
        if viewer.provider_id is None:
            return search, [], 0
        own_provider = viewer.provider_id
    rows, total = repository.list_patients(
        session,
        terms=search.terms,
        date_of_birth=search.date_of_birth,
        phone_digits=search.phone_digits,
        booked_with_provider_id=own_provider,
        limit=limit,
        offset=0,
        include_merged=False,
    )
    return search, rows, total


SIMILAR_LIMIT = 5


def similar_patients(session: Session, data: PatientCreate) -> list[Patient]:
    """Records that may already be this person, to show before creating a new one: the same
    e-mail; the same date of birth and first or last name; the same phone and last name."""
    return repository.similar_patients(
        session,
        first_name=data.first_name,
        last_name=data.last_name,
        date_of_birth=data.date_of_birth,
        email=data.email or "",
        phone_digits=_digits(data.phone) if data.phone else "",
        limit=SIMILAR_LIMIT,
    )


# --- Eligibility flags ----------------------------------------------------------------------

ELIGIBILITY_FLAGS = {
    "consult_completed": "Consultation done",
    "consent_signed": "Consent signed",
    "rems_enrolled": "REMS enrolled",
}
# The events that can change a flag (an update through the API sets them too).
_FLAG_ACTIONS = ("patient.create", "patient.update", "patient.eligibility")


def set_eligibility(
    session: Session,
    patient_id: int,
    flag: str,
    value: bool,
    *,
    reason: str,
    actor: Actor,
    now: datetime,
) -> Patient:
    """Record (``value`` True) or clear an eligibility flag, with the reason staff give.

    A reason is required; setting a flag to what it already is writes nothing (409
    ``unchanged``); merged records are read-only (409 ``already_merged``)."""
    if flag not in ELIGIBILITY_FLAGS:
        raise InvalidInput(f"Unknown eligibility flag {flag!r}.", field="flag")
    reason = " ".join(reason.split())
    if not reason:
        raise InvalidInput("Say why (for example where the form is filed).", field="reason")
    if len(reason) > REASON_MAX:
        raise InvalidInput(f"Keep the reason under {REASON_MAX} characters.", field="reason")
    patient = get_patient(session, patient_id)
    _not_merged(patient)
    label = ELIGIBILITY_FLAGS[flag]
    if getattr(patient, flag) == value:
        state = "recorded" if value else "cleared"
        raise Conflict(f"{label} is already {state}.", code="unchanged")
    before = snapshot(patient)
    setattr(patient, flag, value)
    patient.updated_at = now
    audited_write(
        session,
        patient,
        actor=actor,
        now=now,
        action="patient.eligibility",
        entity_type="patient",
        before=before,
        reason=reason,
    )
    return patient


REASON_MAX = 1000


@dataclass(frozen=True)
class FlagRecord:
    """An eligibility flag as it stands, and the change that made it so (None when no event
    says: the record predates the audit trail)."""

    flag: str
    label: str
    value: bool
    changed_at: datetime | None
    changed_by: str | None
    reason: str


def eligibility(session: Session, patient: Patient) -> list[FlagRecord]:
    """Each eligibility flag with who last set or cleared it, when, and why."""
    assert patient.id is not None
    last: dict[str, tuple[datetime, str, str]] = {}
    for event, user in events_of(
        session, entity_type="patient", entity_id=patient.id, actions=_FLAG_ACTIONS
    ):
        before: dict[str, Any] = event.before or {}
        after: dict[str, Any] = event.after or {}
        who = (user.full_name or user.email) if user is not None else event.actor
        for flag in ELIGIBILITY_FLAGS:
            if flag in after and bool(after[flag]) != bool(before.get(flag, False)):
                last[flag] = (event.occurred_at, who, event.reason)
    records = []
    for flag, label in ELIGIBILITY_FLAGS.items():
        value = bool(getattr(patient, flag))
        if flag in last:
            at, who, why = last[flag]
            records.append(FlagRecord(flag, label, value, at, who, why))
        else:
            records.append(FlagRecord(flag, label, value, None, None, ""))
    return records


# --- Probable duplicates --------------------------------------------------------------------


def _not_merged(patient: Patient) -> None:
    if patient.merged_into_id is not None:
        raise Conflict(
            f"Patient {patient.id} was merged into patient {patient.merged_into_id}; "
            "change that record instead.",
            code="already_merged",
        )


def dismiss_duplicate(session: Session, patient_id: int, *, actor: Actor, now: datetime) -> Patient:
    """Staff looked and this record is not the same person as the one it was flagged
    against: the flag is cleared (audited ``patient.not_duplicate``), both records stay."""
    patient = get_patient(session, patient_id)
    _not_merged(patient)
    if patient.probable_duplicate_of_id is None:
        raise Conflict(
            f"Patient {patient_id} is not flagged as a probable duplicate.", code="not_flagged"
        )
    before = snapshot(patient)
    flagged_against = patient.probable_duplicate_of_id
    patient.probable_duplicate_of_id = None
    patient.updated_at = now
    audited_write(
        session,
        patient,
        actor=actor,
        now=now,
        action="patient.not_duplicate",
        entity_type="patient",
        before=before,
        reason=f"not the same person as patient {flagged_against}",
    )
    return patient


@dataclass(frozen=True)
class MergePreview:
    """What merging ``duplicate`` into ``kept`` would do: the bookings, holds and series that
    move; ``kept`` keeps its details and flags."""

    kept: Patient
    duplicate: Patient
    bookings: list[Booking]
    holds: int
    series: int


def merge_preview(session: Session, kept_id: int, duplicate_id: int) -> MergePreview:
    """The confirm step of a merge (reads only; the merge itself checks again)."""
    kept = get_patient(session, kept_id)
    duplicate = get_patient(session, duplicate_id)
    if kept_id == duplicate_id:
        raise InvalidInput("A patient cannot be merged into itself.", field="duplicate_id")
    _not_merged(kept)
    _not_merged(duplicate)
    holds, series = repository.count_holds_and_series(session, duplicate_id)
    bookings = repository.bookings_of(session, duplicate_id)
    return MergePreview(kept, duplicate, bookings, holds, series)
