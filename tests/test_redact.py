"""Secrets in URL paths never reach a log line."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime
from pathlib import Path
from urllib.parse import quote, quote_plus

import httpx
import pytest
from sqlmodel import Session

from scheduler.config import Settings
from scheduler.db import build_engine
from scheduler.kit.redact import RedactingFilter, redact_path
from scheduler.migrate import upgrade
from tests.conftest import dispose_database, fresh_database_url, make_settings
from tests.factories import auth_headers, make_patient, make_user
from tests.live import running_server

SECRET = "Zm9vYmFyYmF6cXV4cXV1eHF1dXhxdXV4cXV1eHF1dXhx"


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (f"/feeds/{SECRET}.ics", "/feeds/[redacted]"),
        (f"/me/link/{SECRET}", "/me/link/[redacted]"),
        (f"/api/v1/public/manage/{SECRET}", "/api/v1/public/manage/[redacted]"),
        (f"/api/v1/public/manage/{SECRET}/cancel", "/api/v1/public/manage/[redacted]/cancel"),
        (f"/api/v1/slots?token={SECRET}&x=1", "/api/v1/slots?token=[redacted]&x=[redacted]"),
        ("/api/v1/bookings/12", "/api/v1/bookings/12"),
        (
            "/api/v1/patients?q=Rosa+Marquez&date_of_birth=1990-04-12&page=2",
            "/api/v1/patients?q=[redacted]&date_of_birth=[redacted]&page=2",
        ),
        (
            "/api/v1/patients?q=rosa%40example.org&Q=x&limit=5&empty=",
            "/api/v1/patients?q=[redacted]&Q=[redacted]&limit=5&empty=",
        ),
        (
            "/api/v1/slots?location=1&start=2026-03-05T00:00:00Z&appointment_type=2",
            "/api/v1/slots?location=1&start=2026-03-05T00:00:00Z&appointment_type=2",
        ),
        ("/api/v1/bookings?patient_id=7", "/api/v1/bookings?patient_id=[redacted]"),
    ],
    ids=[
        "feed",
        "sign-in-link",
        "manage",
        "manage-action",
        "query",
        "untouched",
        "patient-search",
        "encoded-search",
        "plain-parameters",
        "unknown-parameter",
    ],
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


def test_filter_redacts_search_terms_in_a_message() -> None:
    record = logging.LogRecord(
        "scheduler",
        logging.ERROR,
        __file__,
        1,
        'failed on "GET /api/v1/patients?q=marquez HTTP/1.1" after 3 ms',
        None,
        None,
    )
    assert RedactingFilter().filter(record)
    assert (
        record.getMessage() == 'failed on "GET /api/v1/patients?q=[redacted] HTTP/1.1" after 3 ms'
    )


def test_the_access_log_carries_no_patient_search_term(
    backend: str, tmp_path: Path, settings: Settings
) -> None:
    """A real server with its access log on: a patient search leaves no name, e-mail or date
    of birth in the log."""
    url = fresh_database_url(backend, tmp_path, "searchlog")
    upgrade(url)
    engine = build_engine(make_settings(url))
    try:
        with Session(engine) as db:
            user = make_user(db, role="front_desk")
            headers = auth_headers(user, settings, datetime.now(UTC))
            make_patient(
                db,
                first_name="Rosalind",
                last_name="Quarterman",
                email="rosalind.q@example.org",
                date_of_birth=date(1990, 4, 12),
                phone="+1 555 0199",
            )
        log_file = tmp_path / "server.log"
        terms = ["Quarterman", "rosalind.q@example.org", "1990-04-12", "+1 555 0199"]
        with running_server(url, log_file=log_file) as base:
            found = httpx.get(f"{base}/api/v1/patients", params={"q": terms[0]}, headers=headers)
            assert found.status_code == 200, found.text
            assert found.json()["items"], "the search should find the patient"
            for term in terms[1:3]:
                httpx.get(f"{base}/api/v1/patients", params={"q": term}, headers=headers)
            httpx.get(
                f"{base}/api/v1/patients",
                params={"date_of_birth": terms[2], "q": terms[3]},
                headers=headers,
            )
    finally:
        engine.dispose()
        dispose_database(url)
    output = log_file.read_text()
    assert "GET /api/v1/patients?q=[redacted]" in output  # the access log did run
    for term in terms:
        for form in (term, quote_plus(term), quote(term)):
            assert form not in output, form
