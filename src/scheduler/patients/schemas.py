"""Request and response shapes for patients (personal data: never logged)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    StringConstraints,
    field_validator,
)

EARLIEST_BIRTH_DATE = date(1900, 1, 1)

PersonName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Email = Annotated[EmailStr, AfterValidator(str.lower)]
# Digits with the usual separators and an optional leading +, the area code possibly in
# brackets ("(303) 555-0142"); empty means unknown.
Phone = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=40, pattern=r"^(\+?\(?[0-9][0-9 ().-]*)?$"),
]
BirthDate = Annotated[date, Field(ge=EARLIEST_BIRTH_DATE, description="Not in the future")]


def _not_null(value: object) -> object:
    if value is None:
        msg = "may be left out, but not null"
        raise ValueError(msg)
    return value


class PatientCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    first_name: PersonName
    last_name: PersonName
    date_of_birth: BirthDate
    email: Email | None = Field(default=None, description="Stored lower-case")
    phone: Phone = ""
    consult_completed: bool = False
    consent_signed: bool = False
    rems_enrolled: bool = False
    notes: str = Field(default="", max_length=4000)


class PatientUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    first_name: PersonName | None = None
    last_name: PersonName | None = None
    date_of_birth: BirthDate | None = None
    email: Email | None = Field(default=None, description="null clears the address")
    phone: Phone | None = None
    consult_completed: bool | None = None
    consent_signed: bool | None = None
    rems_enrolled: bool | None = None
    notes: str | None = Field(default=None, max_length=4000)

    _no_nulls = field_validator(
        "first_name",
        "last_name",
        "date_of_birth",
        "phone",
        "consult_completed",
        "consent_signed",
        "rems_enrolled",
        "notes",
    )(_not_null)


class PatientRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    first_name: str
    last_name: str
    date_of_birth: date
    email: str
    phone: str
    consult_completed: bool
    consent_signed: bool
    rems_enrolled: bool
    notes: str
    probable_duplicate_of_id: int | None = Field(
        description="Set on a record an online booking made for someone whose e-mail and date "
        "of birth match this (lowest-id) record: review, then merge it (POST "
        "/patients/{id}/merge)"
    )
    merged_into_id: int | None = Field(description="The record this one was merged into")
    created_at: datetime
    updated_at: datetime


class PatientMerge(BaseModel):
    model_config = ConfigDict(extra="forbid")

    duplicate_id: int = Field(
        description="The record to fold into this one: its bookings, holds and series move "
        "here; this record's details and eligibility flags are kept"
    )
