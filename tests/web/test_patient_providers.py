"""Choosing a provider on /book: offered only where the clinic shows providers to patients
(``show_provider_to_patients``) and more than one does the visit; otherwise no names at all,
and a provider in the URL changes nothing.

Clock: Monday 2 March 2026, 09:00 in New York. Nora Nurse does consultations on weekdays
8-17; Dana Doctor only on Thursday afternoons.
"""

from __future__ import annotations

import re
from datetime import time

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from scheduler.config import Settings
from scheduler.models import Booking, Provider
from tests.clinic_fixture import Clinic
from tests.conftest import make_settings
from tests.factories import make_provider
from tests.web.inprocess import CSRF_INPUT

THURSDAY = "2026-03-05"


@pytest.fixture
def two_providers(clinic: Clinic, db: Session) -> tuple[Clinic, Provider]:
    clinic.consult.self_schedulable = True
    db.add(clinic.consult)
    db.commit()
    dana = make_provider(
        db,
        name="Dana Doctor",
        locations=(clinic.location,),
        types=(clinic.consult,),
        weekly=((3, time(13, 0), time(15, 0)),),
    )
    return clinic, dana


def times_of(html: str) -> list[str]:
    return re.findall(r'name="start" value="([^"]+)"', html)


class TestShown:
    def test_the_patient_may_choose_whom_to_see_and_books_with_them(
        self, browser: TestClient, two_providers: tuple[Clinic, Provider], db: Session
    ) -> None:
        clinic, dana = two_providers
        base = f"/book/times?location={clinic.location_id}&type={clinic.consult.id}"
        anyone = browser.get(f"{base}&day={THURSDAY}")
        assert "Who would you like to see?" in anyone.text
        assert "Dana Doctor" in anyone.text
        assert "Nora Nurse" in anyone.text
        assert "2026-03-05T09:00:00-05:00" in times_of(anyone.text)
        hers = browser.get(f"{base}&day={THURSDAY}&provider={dana.id}")
        assert hers.status_code == 200
        theirs = times_of(hers.text)
        assert theirs[0] == "2026-03-05T13:00:00-05:00"
        assert theirs[-1] == "2026-03-05T14:00:00-05:00"  # her afternoon only
        assert f'<option value="{dana.id}" selected>' in hers.text
        assert 'aria-label="Tuesday 3 March, no free times"' in hers.text  # not her day
        # "Anyone" sends an empty choice: all times again, not an error.
        assert browser.get(f"{base}&day={THURSDAY}&provider=").status_code == 200
        token = CSRF_INPUT.search(hers.text)
        assert token
        held = browser.post(
            "/book/hold",
            data={
                "location": clinic.location_id,
                "type": clinic.consult.id,
                "start": "2026-03-05T13:00:00-05:00",
                "provider": dana.id,
                "csrftoken": token.group(1),
            },
        )
        assert held.status_code == 303, held.text
        details = browser.get(held.headers["location"])
        person = {
            "first_name": "Rosa",
            "last_name": "Marquez",
            "date_of_birth": "1990-04-12",
            "email": "rosa@example.org",
            "phone": "+1 555 0199",
            "hold": held.headers["location"].rsplit("=", 1)[1],
        }
        token = CSRF_INPUT.search(details.text)
        assert token
        review = browser.post("/book/details", data={**person, "csrftoken": token.group(1)})
        token = CSRF_INPUT.search(review.text)
        assert token
        done = browser.post("/book/confirm", data={**person, "csrftoken": token.group(1)})
        assert done.status_code == 303, done.text
        booking = db.exec(select(Booking).where(col(Booking.source) == "online")).one()
        assert booking.provider_id == dana.id


class TestHidden:
    @pytest.fixture
    def settings(self, database_url: str) -> Settings:
        return make_settings(database_url, show_provider_to_patients=False)

    def test_no_choice_and_no_names_where_the_clinic_hides_providers(
        self, browser: TestClient, two_providers: tuple[Clinic, Provider]
    ) -> None:
        clinic, dana = two_providers
        base = f"/book/times?location={clinic.location_id}&type={clinic.consult.id}"
        page = browser.get(f"{base}&day={THURSDAY}&provider={dana.id}")
        assert page.status_code == 200
        assert "Who would you like to see?" not in page.text
        assert "Dana Doctor" not in page.text
        assert "Nora Nurse" not in page.text
        assert "2026-03-05T09:00:00-05:00" in times_of(page.text)  # the choice is ignored
