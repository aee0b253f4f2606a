"""Dates as typed into a search box (``kit.written_dates``): pure, no database."""

from __future__ import annotations

from datetime import date

import pytest

from scheduler.kit.written_dates import parse_written_date

TODAY = date(2026, 12, 6)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("1980-05-17", date(1980, 5, 17), id="iso"),
        pytest.param("1980/5/7", date(1980, 5, 7), id="iso_slashes_no_zeros"),
        pytest.param("5/17/1980", date(1980, 5, 17), id="us_month_first"),
        pytest.param("05-17-1980", date(1980, 5, 17), id="us_dashes"),
        pytest.param("17.05.1980", date(1980, 5, 17), id="day_first_when_month_impossible"),
        pytest.param("03/04/1980", date(1980, 3, 4), id="ambiguous_reads_month_first"),
        pytest.param("05-17-80", date(1980, 5, 17), id="two_digit_year_last_century"),
        pytest.param("01/02/03", date(2003, 1, 2), id="two_digit_year_this_century"),
        pytest.param("12/31/26", date(1926, 12, 31), id="two_digit_year_never_in_the_future"),
        pytest.param("May 17 1980", date(1980, 5, 17), id="month_name_first"),
        pytest.param("17 May 1980", date(1980, 5, 17), id="day_first_words"),
        pytest.param("May 17, 1980", date(1980, 5, 17), id="with_comma"),
        pytest.param("september 3 1999", date(1999, 9, 3), id="full_month_lower_case"),
        pytest.param("  1980-05-17 ", date(1980, 5, 17), id="spaces_around"),
    ],
)
def test_dates_people_type(text: str, expected: date) -> None:
    assert parse_written_date(text, TODAY) == expected


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("", id="empty"),
        pytest.param("Jane", id="a_name"),
        pytest.param("3035550142", id="a_phone_number"),
        pytest.param("303-555-0142", id="a_dashed_phone_number"),
        pytest.param("02/30/1980", id="no_such_day"),
        pytest.param("13/13/1980", id="no_such_month_either_way"),
        pytest.param("1980-05-170", id="too_many_digits"),
        pytest.param("5/17/198", id="three_digit_year"),
    ],
)
def test_not_dates(text: str) -> None:
    assert parse_written_date(text, TODAY) is None
