"""The e-mail names the clinic's time zone as the patient pages do (``kit/zones.py``)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from scheduler.kit.zones import everyday_zone_name
from scheduler.notifications.content import MessageContext, render


def _reminder(zone: str, start: datetime) -> MessageContext:
    return MessageContext(
        kind="reminder",
        first_name="Ana",
        clinic="Uptown",
        address="1 High St",
        phone="",
        timezone=zone,
        start_at=start,
        end_at=start,
        instructions=(),
        manage_url="https://clinic.example/manage/x",
        opt_out_url=None,
    )


@pytest.mark.parametrize(
    ("zone", "start", "said"),
    [
        (
            "America/Denver",
            datetime(2026, 1, 13, 9, 30, tzinfo=ZoneInfo("America/Denver")),
            "Tuesday 13 January 2026, 09:30 Mountain Time (MST)",
        ),
        (
            "America/Denver",
            datetime(2026, 7, 14, 9, 30, tzinfo=ZoneInfo("America/Denver")),
            "Tuesday 14 July 2026, 09:30 Mountain Time (MDT)",
        ),
        (
            "Europe/Lisbon",
            datetime(2026, 7, 14, 9, 30, tzinfo=ZoneInfo("Europe/Lisbon")),
            "Tuesday 14 July 2026, 09:30 Europe/Lisbon time (WEST)",
        ),
    ],
)
def test_the_message_names_the_zone_like_the_patient_pages(
    zone: str, start: datetime, said: str
) -> None:
    _subject, text, html = render(_reminder(zone, start))
    for body in (text, html):
        assert said in body
        assert everyday_zone_name(zone, start) in body
    assert f"({zone})" not in text  # no longer the e-mails' own wording
