"""The staff's patient details form, wherever it is filled in: the patients page (add, edit)
and the booking flow (add inline). One reading and one set of messages, in the words of the
front desk (the schemas' own are written for API clients).

The date of birth is read however it is written (``1980-03-14``, ``03/14/1980``, ``March 14
1980``), as the search box reads it; an empty e-mail means none.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from scheduler.kit.written_dates import parse_written_date
from scheduler.web.templating import FormErrors

FIELD_MESSAGES = {
    "first_name": "Enter the first name (up to 100 characters).",
    "last_name": "Enter the last name (up to 100 characters).",
    "date_of_birth": "Enter the date of birth as a real date, not in the future, from 1900.",
    "email": "Enter an e-mail address like name@example.org, or leave it empty.",
    "phone": "Enter a phone number with digits, spaces, brackets, dots or dashes, "
    "optionally starting with +.",
    "notes": "Keep the notes under 4000 characters.",
}
NO_BIRTH_DATE = "Enter the date of birth."
UNREADABLE_BIRTH_DATE = "Write the date of birth like 1980-03-14, 03/14/1980 or March 14 1980."

Details = TypeVar("Details", bound=BaseModel)


def read_details(
    schema: type[Details], form: Mapping[str, str], *, today: date
) -> tuple[Details | None, FormErrors]:
    """The details typed in ``form`` as ``schema`` (``PatientCreate`` or ``PatientUpdate``),
    or the errors to show next to each field. Only the fields in ``form`` are read."""
    errors = FormErrors()
    data: dict[str, Any] = dict(form)
    if "email" in form:
        data["email"] = form["email"].strip() or None
    if "date_of_birth" in form:
        written = form["date_of_birth"].strip()
        data["date_of_birth"] = parse_written_date(written, today) if written else None
        if not written:
            errors.add("date_of_birth", NO_BIRTH_DATE)
        elif data["date_of_birth"] is None:
            errors.add("date_of_birth", UNREADABLE_BIRTH_DATE)
    try:
        details = schema.model_validate(data)
    except ValidationError as exc:
        for problem in exc.errors():
            name = str(problem["loc"][0]) if problem["loc"] else ""
            errors.add(name, FIELD_MESSAGES.get(name, "Check this field."))
        return None, errors
    return (None if errors else details), errors
