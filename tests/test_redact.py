"""Secrets in URL paths never reach a log line."""

from __future__ import annotations

import logging

import pytest

from scheduler.kit.redact import RedactingFilter, redact_path

SECRET = "Zm9vYmFyYmF6cXV4cXV1eHF1dXhxdXV4cXV1eHF1dXhx"


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (f"/feeds/{SECRET}.ics", "/feeds/[redacted]"),
        (f"/api/v1/public/manage/{SECRET}", "/api/v1/public/manage/[redacted]"),
        (f"/api/v1/public/manage/{SECRET}/cancel", "/api/v1/public/manage/[redacted]/cancel"),
        (f"/api/v1/slots?token={SECRET}&x=1", "/api/v1/slots?token=[redacted]&x=1"),
        ("/api/v1/bookings/12", "/api/v1/bookings/12"),
    ],
    ids=["feed", "manage", "manage-action", "query", "untouched"],
)
def test_redact_path(path: str, expected: str) -> None:
    assert redact_path(path) == expected


def test_filter_rewrites_uvicorn_style_access_records() -> None:
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", f"/feeds/{SECRET}.ics", "1.1", 200),
        None,
    )
    assert RedactingFilter().filter(record)
    assert SECRET not in record.getMessage()
    assert "/feeds/[redacted]" in record.getMessage()
