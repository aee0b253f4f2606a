"""Dates as people type them into a search box: ``1980-05-17``, ``5/17/1980``, ``05-17-80``,
``17.05.1980``, ``May 17 1980``, ``17 May 1980``, ``May 17, 1980``.

Numeric dates are read month first (the United States' order); when the first number cannot
be a month (``17/05/1980``) they are read day first. A two-digit year makes the latest date
with those digits that is not after ``today`` (a birth date is never in the future).
"""

from __future__ import annotations

import re
from datetime import date, datetime

_NUMERIC = re.compile(r"^(\d{1,4})([/.-])(\d{1,2})\2(\d{1,4})$")
_WORDS_FORMATS = ("%d %b %Y", "%d %B %Y", "%b %d %Y", "%B %d %Y")


def _year(text: str, today: date) -> int:
    """A four-digit year as written; two digits: this century's, the last one's if later."""
    year = int(text)
    if len(text) == 2:
        year += today.year - today.year % 100
        if year > today.year:
            year -= 100
    return year


def _not_after(day: date, today: date, two_digit_year: bool) -> date:
    """A two-digit year that lands on a day after ``today`` means the century before."""
    if two_digit_year and day > today:
        return day.replace(year=day.year - 100)
    return day


def parse_written_date(text: str, today: date) -> date | None:
    """The date ``text`` names, or None when it is not a date written in a common way."""
    value = " ".join(text.replace(",", " ").split())
    if not value:
        return None
    found = _NUMERIC.match(value)
    if found:
        first, _, second, last = found.groups()
        if len(first) == 4:  # 1980-05-17, 1980/05/17
            if len(last) > 2:
                return None
            candidates = [(int(first), int(second), int(last))]
        elif len(first) > 2 or len(last) not in (2, 4):
            return None
        else:
            year = _year(last, today)
            month_first = (year, int(first), int(second))
            day_first = (year, int(second), int(first))
            candidates = [month_first, day_first]
        for year, month, day in candidates:
            try:
                found_date = date(year, month, day)
            except ValueError:
                continue
            try:
                return _not_after(found_date, today, len(first) != 4 and len(last) == 2)
            except ValueError:  # 29 February of a year that had none
                return found_date
        return None
    for pattern in _WORDS_FORMATS:
        try:
            return datetime.strptime(value, pattern).date()  # noqa: DTZ007 (a date, no time)
        except ValueError:
            continue
    return None
