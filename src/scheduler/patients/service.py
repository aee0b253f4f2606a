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
from scheduler.errors import Conflict, InvalidInput, NotFound, PreconditionFailed
from scheduler.kit.written_dates import parse_written_date
from scheduler.models import Patient
from scheduler.patients import repository
from scheduler.patients.schemas import PatientCreate, PatientUpdate

MAX_SEARCH_TERMS = 5
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
    refuse_if_merged(patient)
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


def refuse_if_merged(patient: Patient) -> None:
    if patient.merged_into_id is not None:
        raise Conflict(
            f"Patient {patient.id} was merged into patient {patient.merged_into_id}; "
            "change that record instead.",
            code="already_merged",
        )
