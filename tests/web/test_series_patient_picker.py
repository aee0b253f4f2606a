"""The series form finds its patient as the booking page does (no raw patient id needed): the
search goes in a form body (no PHI in the address), each patient found links to the form with
the choices made so far, and the placement follows. In process, on SQLite and PostgreSQL
(frozen clock, Monday 2 March 2026, New York)."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlmodel import Session

from scheduler.kit.clock import FrozenClock
from tests.clinic_fixture import Clinic
from tests.web.test_series_pages import CSRF, _desk, _template

LINK = re.compile(r'href="(/admin/series/new\?[^"]+)"')


def test_the_desk_finds_the_patient_on_the_series_form(
    browser: TestClient, clinic: Clinic, clock: FrozenClock, db: Session
) -> None:
    template_id = _template(db, clinic, clock)
    _desk(browser, db)
    chosen = f"template_id={template_id}&location_id={clinic.location_id}&first_day=2026-03-03"
    form = browser.get(f"/admin/series/new?{chosen}")
    assert form.status_code == 200, form.text
    assert 'action="/admin/series/find"' in form.text
    assert "Find a patient" in form.text
    token = CSRF.search(form.text)
    assert token
    fields = {
        "csrftoken": token.group(1),
        "template_id": str(template_id),
        "location_id": str(clinic.location_id),
        "first_day": "2026-03-03",
    }

    empty = browser.post("/admin/series/find", data={**fields, "q": " "})
    assert empty.status_code == 422
    assert 'id="error-q"' in empty.text
    assert 'href="#field-q"' in empty.text

    nobody = browser.post("/admin/series/find", data={**fields, "q": "Zebulon"})
    assert nobody.status_code == 200
    assert "Nobody on file matches" in nobody.text

    found = browser.post("/admin/series/find", data={**fields, "q": "Okafor"})
    assert found.status_code == 200, found.text
    assert "Omar Okafor" in found.text
    assert "Jane Doe" not in found.text
    [link] = [u for u in LINK.findall(found.text) if "patient_id=" in u]
    link = link.replace("&amp;", "&")
    assert f"patient_id={clinic.other_patient.id}" in link
    assert f"template_id={template_id}" in link  # the choices made so far are kept
    assert "first_day=2026-03-03" in link
    assert "Okafor" not in link  # the search words never go in an address
    preview = browser.get(link)
    assert preview.status_code == 200, preview.text
    assert "Omar Okafor" in preview.text
    assert "Book all 4 visits" in preview.text
