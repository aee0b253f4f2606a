"""A message's bytes are exactly what the standard library's compat32 generator writes for it
(CRLF, folded only past RFC 5322's 998 octets): ``as_bytes`` writes a header that is already
ASCII and short enough as it is, without compat32's folding machinery, and must not differ
from it in a single byte, for encoded names, long one-word values (a List-Unsubscribe URL),
and a header long enough that it must be folded.
"""

from __future__ import annotations

import email
from email.generator import BytesGenerator
from email.message import Message
from email.policy import compat32
from io import BytesIO

import pytest

from scheduler.notifications.transports import Attachment, OutgoingMessage

STANDARD = compat32.clone(linesep="\r\n", max_line_length=998)
CALENDAR = b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n"


def message(**headers: str) -> OutgoingMessage:
    return OutgoingMessage(
        to="Zoë Ünal <zoe@example.org>",
        sender="Clínica Süd <clinic@example.org>",
        reply_to="desk@example.org",
        subject="Your appointment at Clínica Süd on Thu 5 Mar, 10:00",
        text="Hello Zoë,\n\nyour appointment is on Thursday 5 March 2026, 10:00 EST.\n",
        html="<p>Hello Zoë,</p>\n<p>your appointment is on Thursday 5 March.</p>\n",
        message_id="<3f2a@scheduler.example.org>",
        attachments=(
            Attachment(
                "appointment.ics",
                "text/calendar",
                CALENDAR,
                {"method": "PUBLISH", "charset": "utf-8"},
            ),
        ),
        headers=headers,
    )


def as_standard_library_writes_it(data: bytes) -> bytes:
    parsed: Message = email.message_from_bytes(data, policy=compat32)
    out = BytesIO()
    BytesGenerator(out, policy=STANDARD).flatten(parsed)
    return out.getvalue()


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="confirmation"),
        pytest.param(
            {
                "List-Unsubscribe": "<https://clinic.example.org/api/v1/public/reminders/"
                + "Tk" * 300
                + "/opt-out>",
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            },
            id="reminder_with_a_long_unsubscribe_url",
        ),
        pytest.param({"X-Note": "x" * (998 - len("X-Note: "))}, id="header_of_exactly_998"),
        pytest.param({"X-Note": "Zoë " * 60}, id="non_ascii_header"),
    ],
)
def test_message_bytes_are_what_compat32_writes(headers: dict[str, str]) -> None:
    data = message(**headers).as_bytes()

    assert data == as_standard_library_writes_it(data)
    head = data.split(b"\r\n\r\n", 1)[0]
    assert b"\n" not in head.replace(b"\r\n", b"")  # CRLF line ends only
    assert all(len(line) <= 998 for line in data.split(b"\r\n"))
    assert b"Subject: Your appointment at =?utf-8?q?Cl=C3=ADnica_S=C3=BCd?= on Thu" in head


def test_a_header_past_998_octets_is_folded_as_compat32_folds_it() -> None:
    value = "word " * 250
    data = message(**{"X-Note": value}).as_bytes()

    assert STANDARD.fold_binary("X-Note", value) in data
    assert all(len(line) <= 998 for line in data.split(b"\r\n"))
    parsed = email.message_from_bytes(data)
    assert " ".join(str(parsed["X-Note"]).split()) == value.strip()
