"""How one search box is read (``patients.service.parse_search``): pure, no database."""

from __future__ import annotations

from datetime import date

import pytest

from scheduler.patients.service import PatientSearch, parse_search

TODAY = date(2026, 12, 6)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("", PatientSearch(), id="empty"),
        pytest.param("jane doe", PatientSearch(terms=["jane", "doe"]), id="name_words"),
        pytest.param("jane@example.org", PatientSearch(terms=["jane@example.org"]), id="e_mail"),
        pytest.param(
            "May 17, 1980", PatientSearch(date_of_birth=date(1980, 5, 17)), id="date_in_words"
        ),
        pytest.param(
            "(303) 555-0142", PatientSearch(phone_digits=["3035550142"]), id="phone_brackets"
        ),
        pytest.param(
            "+1 303 555 0142",
            PatientSearch(phone_digits=["3035550142"]),
            id="phone_country_code_dropped",
        ),
        pytest.param(
            "+44 20 7946 0958", PatientSearch(phone_digits=["442079460958"]), id="phone_abroad"
        ),
        pytest.param(
            "Doe 5/17/1980",
            PatientSearch(terms=["Doe"], date_of_birth=date(1980, 5, 17)),
            id="name_and_date",
        ),
        pytest.param(
            "Doe 555-0142",
            PatientSearch(terms=["Doe"], phone_digits=["5550142"]),
            id="name_and_phone",
        ),
        pytest.param("12", PatientSearch(terms=["12"]), id="too_few_digits_for_a_phone"),
    ],
)
def test_one_box(text: str, expected: PatientSearch) -> None:
    assert parse_search(text, today=TODAY) == expected
