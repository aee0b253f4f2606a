"""Does a clinic's history slow down its everyday requests?

Seeds the same clinic three times (America/Denver, Mon-Fri 07:00-19:00, 6 chairs, 4 providers,
an infusion and a self-schedulable consultation, a feed token for the first provider, the next
eight weeks booked where the availability engine offers starts):

- ``none``: only that clinic, no history;
- ``history``: plus three years of past visits (6 per chair and weekday, ~28,000: 15 %
  cancelled, 5 % no-shows, the rest fulfilled), each with its messages (confirmation, reminder,
  a cancellation for the cancelled) and audit events (created, then fulfilled / cancelled /
  no-show);
- ``churn``: plus the soak's pathological case instead, ``CHURN`` consultations cancelled in
  the coming weeks in the last minutes (each booked and cancelled, as ``soak.py`` leaves them).

Then, in one process and alternating between the three databases request by request (the
machine is shared: only figures of the same run are compared), ``ROUNDS`` times: a booking
(``POST /api/v1/bookings``, a consultation of the feed's provider in weeks nobody booked, so it
also changes the feed), the provider's feed re-rendered after it and its 304 revalidation, a
week's slot search for the infusion, the day board of a booked day (signed in as a browser),
and the patient time picker (``/book/times``, month + day). Prints the median per request and
database, and each history's median divided by the clinic's without history.

    .venv/bin/python benchmarks/history.py [--backend sqlite|postgresql|both] [--rounds 40]
        [--explain]
"""

from __future__ import annotations

import random
import re
import statistics
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as wall
from typing import Any
from urllib.parse import urlencode

import _common as common
from fastapi.testclient import TestClient
from sqlalchemy import insert
from sqlmodel import Session

from scheduler.availability.engine import local_instant
from scheduler.kit.secrets import hash_token, new_token
from scheduler.main import create_app
from scheduler.models import AppointmentType, AuditEvent, FeedToken, Notification

ROUNDS = 40
YEARS = 3
PER_CHAIR_DAY = 6
CHURN = 28_000
CANCELLED_SHARE = 0.15
NOSHOW_SHARE = 0.05
TYPES: dict[str, dict[str, Any]] = {
    "infusion": {"name": "Infusion", "phases": common.INFUSION_PHASES, "turnover_minutes": 10},
    "consult": {"name": "Consultation", "phases": common.CONSULT_PHASES},
}
KINDS = ("none", "history", "churn")
REQUESTS = ("booking", "feed", "feed 304", "slots", "day board", "time picker")


@dataclass
class Clinic:
    ids: common.ClinicIds
    feed_secret: str
    counts: dict[str, int]
    feed_events: list[int] = field(default_factory=lambda: [0])  # in the last feed served


def _row(
    clinic: common.ClinicIds,
    *,
    start: datetime,
    code: str,
    chair: int | None,
    provider: int,
    patient: int,
    status: str,
    at: datetime,
    rng: random.Random,
) -> dict[str, Any]:
    phases = TYPES[code]["phases"]
    minutes = sum(p["minutes"] for p in phases)
    turnover = TYPES[code].get("turnover_minutes", 0)
    end = start + timedelta(minutes=minutes)
    row: dict[str, Any] = {
        "patient_id": patient,
        "appointment_type_id": clinic.type_ids[code],
        "location_id": clinic.location_id,
        "chair_id": chair,
        "provider_id": provider,
        "start_at": start,
        "end_at": end,
        "chair_start_at": start if chair is not None else None,
        "chair_end_at": end + timedelta(minutes=turnover) if chair is not None else None,
        "phases": phases,
        "turnover_minutes": turnover,
        "status": status,
        "source": "front_desk",
        "version": 2 if status != "booked" else 1,
        "ical_uid": f"{rng.getrandbits(128):032x}@infusion-scheduler",
        "sequence": 0,
        "notes": "",
        "override_reason": "",
        "cancel_reason": "",
        "cancelled_by": "",
        "late_cancel": False,
        "driver_confirmed": True,
        "fasting_acknowledged": True,
        "created_at": at - timedelta(days=14),
        "updated_at": at,
    }
    if status == "cancelled":
        row.update(cancel_reason="patient unwell", cancelled_by="patient", cancelled_at=at)
    return row


def _insert(session: Session, model: Any, rows: list[dict[str, Any]]) -> list[int]:
    """Insert in chunks; the new rows' ids in order (ids are handed out increasing)."""
    table = model.__table__
    first = session.execute(
        table.select().with_only_columns(table.c.id).order_by(table.c.id.desc()).limit(1)
    ).scalar()
    for chunk in range(0, len(rows), 2000):
        session.execute(insert(model), rows[chunk : chunk + 2000])
    ids = session.execute(
        table.select()
        .with_only_columns(table.c.id)
        .where(table.c.id > (first or 0))
        .order_by(table.c.id)
    )
    return [int(r[0]) for r in ids]


def _messages_and_audit(
    session: Session, rows: list[dict[str, Any]], booking_ids: list[int], user_id: int
) -> tuple[int, int]:
    notes: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    for row, booking_id in zip(rows, booking_ids, strict=True):
        created, changed = row["created_at"], row["updated_at"]
        kinds = [("confirmation", created), ("reminder", row["start_at"] - timedelta(days=1))]
        if row["status"] == "cancelled":
            kinds.append(("cancellation", changed))
        for kind, due in kinds:
            notes.append(
                {
                    "booking_id": booking_id,
                    "patient_id": row["patient_id"],
                    "kind": kind,
                    "channel": "email",
                    "status": "sent"
                    if kind != "reminder" or row["status"] != "cancelled"
                    else "withdrawn",
                    "due_at": due,
                    "attempts": 1,
                    "last_error": "",
                    "message_id": f"<{uuid.uuid4().hex}@bench.example>",
                    "claimed_by": "",
                    "sent_at": due,
                    "created_at": created,
                    "updated_at": due,
                }
            )
        snapshot = {"id": booking_id, "status": "booked", "start_at": row["start_at"].isoformat()}
        events.append(
            {
                "occurred_at": created,
                "actor": f"user:{user_id}",
                "actor_user_id": user_id,
                "action": "booking.created",
                "entity_type": "booking",
                "entity_id": booking_id,
                "before": None,
                "after": snapshot,
                "reason": "",
                "request_id": "",
            }
        )
        if row["status"] != "booked":
            events.append(
                {
                    "occurred_at": changed,
                    "actor": "system:worker",
                    "actor_user_id": None,
                    "action": f"booking.{row['status']}",
                    "entity_type": "booking",
                    "entity_id": booking_id,
                    "before": snapshot,
                    "after": {**snapshot, "status": row["status"]},
                    "reason": "",
                    "request_id": "",
                }
            )
    _insert(session, Notification, notes)
    _insert(session, AuditEvent, events)
    return len(notes), len(events)


def seed(session: Session, kind: str, today: date, now: datetime) -> Clinic:
    ids = common.seed_clinic(session, chairs=6, providers=4, patients=3000, types=TYPES, stagger=10)
    consult = session.get(AppointmentType, ids.type_ids["consult"])
    assert consult is not None
    consult.self_schedulable = True
    session.add(consult)
    secret = new_token()
    session.add(
        FeedToken(
            token_hash=hash_token(secret),
            provider_id=ids.provider_ids[0],
            label="history",
            created_at=common.EPOCH,
        )
    )
    session.commit()
    rng = random.Random(11)  # the same clinic and present in all three databases
    present = common.greedy_schedule(
        clinic=ids,
        phases=common.to_phases(common.INFUSION_PHASES),
        turnover_minutes=10,
        days=common.weekdays(today + timedelta(days=1), 56),
        per_day=24,
        rng=rng,
    )
    rows = [
        common.booking_row(
            c,
            type_id=ids.type_ids["infusion"],
            location_id=ids.location_id,
            patient_id=rng.choice(ids.patient_ids),
            status="booked",
            raw_phases=common.INFUSION_PHASES,
            created_at=now - timedelta(days=3),
            rng=rng,
        )
        for c in present
    ]
    counts = {"present": len(rows)}
    past: list[dict[str, Any]] = []
    if kind == "history":
        days = common.weekdays(today - timedelta(days=365 * YEARS), 365 * YEARS)
        for day in days:
            for c, chair in enumerate(ids.chair_ids):
                for k in range(PER_CHAIR_DAY):
                    start = local_instant(day, wall(7, 0), common.ZONE) + timedelta(
                        minutes=110 * k + 10 * (c % 3)
                    )
                    draw = rng.random()
                    status = (
                        "cancelled"
                        if draw < CANCELLED_SHARE
                        else "noshow"
                        if draw < CANCELLED_SHARE + NOSHOW_SHARE
                        else "fulfilled"
                    )
                    at = (
                        start + timedelta(hours=2)
                        if status != "cancelled"
                        else start - timedelta(days=2)
                    )
                    past.append(
                        _row(
                            ids,
                            start=start,
                            code="infusion",
                            chair=chair,
                            provider=ids.provider_ids[(c + k) % len(ids.provider_ids)],
                            patient=rng.choice(ids.patient_ids),
                            status=status,
                            at=min(at, now),
                            rng=rng,
                        )
                    )
    elif kind == "churn":
        # As soak.py leaves them: consultations of every provider in the coming weeks, each
        # booked and cancelled within the last minutes, many times over the same starts.
        starts = [
            local_instant(day, wall(7 + i // 2, 30 * (i % 2)), common.ZONE)
            for day in common.weekdays(today + timedelta(days=1), 84)
            for i in range(24)
        ]
        for n in range(CHURN):
            past.append(
                _row(
                    ids,
                    start=starts[n % len(starts)],
                    code="consult",
                    chair=None,
                    provider=ids.provider_ids[n % len(ids.provider_ids)],
                    patient=ids.patient_ids[n % 4],
                    status="cancelled",
                    at=now - timedelta(seconds=600 * (CHURN - n) / CHURN),
                    rng=rng,
                )
            )
    booking_ids = _insert(session, common.Booking, rows + past)
    counts["past"] = len(past)
    counts["notifications"], counts["audit"] = _messages_and_audit(
        session, rows + past, booking_ids, ids.user_id
    )
    session.commit()
    common.analyze(session)
    return Clinic(ids, secret, counts)


@contextmanager
def clinic_client(
    backend: str, kind: str, today: date, now: datetime
) -> Iterator[tuple[Clinic, TestClient, str]]:
    with common.fresh_database(backend, f"history_{kind}") as url:
        engine = common.engine_for(url)
        with Session(engine) as session:
            clinic = seed(session, kind, today, now)
        engine.dispose()
        app = create_app(common.settings_for(url))
        with TestClient(app, base_url="https://testserver") as client:
            yield clinic, client, url


def sign_in(client: TestClient) -> None:
    page = client.get("/admin/login")
    token = re.search(r'name="csrftoken" value="([^"]+)"', page.text)
    assert token is not None
    answer = client.post(
        "/admin/login",
        data={
            "email": "desk@bench.example",
            "password": "bench-password-not-used",
            "csrftoken": token.group(1),
        },
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.status_code


def requests_for(
    clinic: Clinic, client: TestClient, today: date
) -> dict[str, Callable[[int], int]]:
    ids = clinic.ids
    bearer = {"Authorization": f"Bearer {common.staff_token(ids.user_id)}"}
    week = common.weekdays(today + timedelta(days=7 - today.weekday()), 7)
    board_day = week[2]
    free_days = common.weekdays(today + timedelta(days=66), 40)
    feed_path = f"/feeds/{clinic.feed_secret}.ics"
    etag = [""]
    events = clinic.feed_events
    slot_query = urlencode(
        {
            "appointment_type": ids.type_ids["infusion"],
            "location": ids.location_id,
            "start": local_instant(week[0], wall(0), common.ZONE).isoformat(),
            "end": local_instant(week[0] + timedelta(days=7), wall(0), common.ZONE).isoformat(),
        }
    )

    def booking(i: int) -> int:
        start = local_instant(
            free_days[i // 20], wall(7 + (i % 20) // 2, 30 * (i % 2)), common.ZONE
        )
        body = {
            "patient_id": ids.patient_ids[100 + i],
            "appointment_type_id": ids.type_ids["consult"],
            "location_id": ids.location_id,
            "start_at": start.isoformat(),
            "provider_id": ids.provider_ids[0],
        }
        headers = {**bearer, "Idempotency-Key": uuid.uuid4().hex}
        return client.post("/api/v1/bookings", json=body, headers=headers).status_code

    def feed(_: int) -> int:
        answer = client.get(feed_path)
        etag[0] = answer.headers.get("ETag", "")
        events[0] = answer.content.count(b"BEGIN:VEVENT")
        return answer.status_code

    def feed_304(_: int) -> int:
        return client.get(feed_path, headers={"If-None-Match": etag[0]}).status_code

    def slots(_: int) -> int:
        return client.get(f"/api/v1/slots?{slot_query}", headers=bearer).status_code

    def board(_: int) -> int:
        path = f"/admin/board?location={ids.location_id}&date={board_day.isoformat()}"
        return client.get(path).status_code

    def picker(_: int) -> int:
        path = (
            f"/book/times?location={ids.location_id}&type={ids.type_ids['consult']}"
            f"&day={board_day.isoformat()}"
        )
        return client.get(path).status_code

    return dict(zip(REQUESTS, (booking, feed, feed_304, slots, board, picker), strict=True))


EXPECTED = {"booking": 201, "feed": 200, "feed 304": 304}


def run(backend: str, rounds: int) -> dict[str, dict[str, float]]:
    common.banner(f"history.py on {backend}: the same clinic without and with history")
    now = datetime.now(UTC)
    today = now.astimezone(common.ZONE).date()
    with ExitStack() as stack:
        clients: dict[str, tuple[Clinic, TestClient]] = {}
        for kind in KINDS:
            t0 = time.perf_counter()
            clinic, client, _ = stack.enter_context(clinic_client(backend, kind, today, now))
            sign_in(client)
            clients[kind] = (clinic, client)
            print(
                f"{kind:>8}: {clinic.counts} (seeded in {time.perf_counter() - t0:.0f} s)",
                flush=True,
            )
        calls = {kind: requests_for(c, client, today) for kind, (c, client) in clients.items()}
        times: dict[str, dict[str, list[float]]] = {k: {r: [] for r in REQUESTS} for k in KINDS}
        for i in range(rounds + 3):
            # Each database goes first in turn: the first after another kind of request
            # was measurably slower on this VM.
            order = KINDS[i % len(KINDS) :] + KINDS[: i % len(KINDS)]
            for request in REQUESTS:
                for kind in order:
                    t0 = time.perf_counter()
                    status = calls[kind][request](i)
                    elapsed = time.perf_counter() - t0
                    assert status == EXPECTED.get(request, 200), (kind, request, status)
                    if i >= 3:  # warm-up
                        times[kind][request].append(elapsed)
    for kind, (clinic, _) in clients.items():
        print(f"{kind:>8}: {clinic.feed_events[0]} events in the provider's feed")
    medians = {k: {r: statistics.median(v) for r, v in times[k].items()} for k in KINDS}
    common.section(f"median of {rounds} requests each, ms (ratio to the clinic without history)")
    print(f"{'request':<14}" + "".join(f"{k:>22}" for k in KINDS))
    for request in REQUESTS:
        base = medians["none"][request]
        cells = [
            f"{medians[k][request] * 1000:>12.2f} ({medians[k][request] / base:5.2f}x)"
            for k in KINDS
        ]
        print(f"{request:<14}" + "".join(f"{c:>22}" for c in cells))
    return medians


def main() -> None:
    args = common.parse_args(
        "Everyday requests on a clinic without history, with 3 years of it, and after churn",
        lambda p: p.add_argument("--rounds", type=int, default=ROUNDS),
    )
    print(f"machine: {common.machine_line()}; {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    for backend in args.backends:
        run(backend, args.rounds)


if __name__ == "__main__":
    main()
