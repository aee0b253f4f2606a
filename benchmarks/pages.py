"""The day board of a busy location: render time, SQL statements and page weight.

Seeds one location (America/Denver, Mon-Fri 07:00-19:00) with 10 chairs, 6 clinicians (3
patients each) and, on one weekday, 60 bookings: infusions placed where the availability
engine itself offers them (so none breaks a chair, capacity or stagger rule) and 30-minute
consultations, a few of them checked in, fulfilled or no-shows. A front-desk user signs in
through ``/admin/login`` as a browser does (CSRF token, session cookie).

Prints:

- the SQL statements ``board.service.day_board`` sends for that day (target <= 6), and for
  the same day with 5 bookings (the count must not grow with the bookings);
- in process: ``day_board`` (load + layout) and the template's render, median CPU time;
- over HTTP: p50/p95/p99 of 200 sequential ``GET /admin/board?location=&date=`` after 10
  warm-up requests (target p95 <= 50 ms); this includes the session check; the CPU the
  server, the database and the client spent per request; and ``/healthz`` for scale;
- the page's weight: the HTML plus every stylesheet, script and icon it links (target
  <= 150 KB uncompressed).

    .venv/bin/python benchmarks/pages.py [--backend sqlite|postgresql|both]
"""

from __future__ import annotations

import random
import re
import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import _common as common
from sqlalchemy import event
from sqlmodel import Session

from scheduler.board import service as board_service
from scheduler.web.templating import environment

CHAIRS = 10
PROVIDERS = 6
BOOKINGS = 60
INFUSIONS = 52  # at most; consultations fill up to BOOKINGS
WARM_UP = 10
REQUESTS = 200
INPROCESS_RUNS = 30
TARGET_P95_MS = 50.0
TARGET_STATEMENTS = 6
TARGET_WEIGHT_KB = 150.0
TYPES: dict[str, dict[str, Any]] = {
    "infusion": {
        "name": "Ketamine infusion",
        "phases": common.INFUSION_PHASES,
        "turnover_minutes": 15,
    },
    "consult": {"name": "Consultation", "phases": common.CONSULT_PHASES},
}


def seed(session: Session, now: datetime) -> tuple[common.ClinicIds, str, int]:
    clinic = common.seed_clinic(
        session, chairs=CHAIRS, providers=PROVIDERS, patients=300, types=TYPES
    )
    rng = random.Random(5)
    day = common.weekdays(now.astimezone(common.ZONE).date() + timedelta(days=2), 7)[0]
    infusions = common.greedy_schedule(
        clinic=clinic,
        phases=common.to_phases(common.INFUSION_PHASES),
        turnover_minutes=15,
        days=[day],
        per_day=INFUSIONS,
        rng=rng,
    )
    consults = common.greedy_schedule(
        clinic=clinic,
        phases=common.to_phases(common.CONSULT_PHASES),
        turnover_minutes=0,
        days=[day],
        per_day=BOOKINGS - len(infusions),
        rng=rng,
        existing=infusions,
    )
    statuses = ["booked"] * 8 + ["checked-in", "fulfilled", "noshow", "arrived"]
    patients = rng.sample(clinic.patient_ids, len(infusions) + len(consults))
    rows = [
        common.booking_row(
            c,
            type_id=clinic.type_ids["infusion"],
            location_id=clinic.location_id,
            patient_id=patients[i],
            status=rng.choice(statuses),
            raw_phases=common.INFUSION_PHASES,
            created_at=now,
            rng=rng,
        )
        for i, c in enumerate(infusions)
    ] + [
        common.booking_row(
            c,
            type_id=clinic.type_ids["consult"],
            location_id=clinic.location_id,
            patient_id=patients[len(infusions) + i],
            status="booked",
            raw_phases=common.CONSULT_PHASES,
            created_at=now,
            rng=rng,
        )
        for i, c in enumerate(consults)
    ]
    common.insert_bookings(session, rows)
    return clinic, day.isoformat(), len(rows)


def count_statements(session: Session, location_id: int, day: str, now: datetime) -> int:
    sent: list[str] = []

    def record(*args: Any) -> None:
        sent.append(str(args[2]))

    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", record)
    try:
        board_service.day_board(
            session,
            location_id=location_id,
            day=datetime.fromisoformat(day).date(),
            now=now,
        )
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return len([s for s in sent if not s.lstrip().upper().startswith(("BEGIN", "SAVEPOINT"))])


def cpu_median(fn: Any) -> float:
    times = []
    for _ in range(INPROCESS_RUNS):
        t0 = time.process_time()
        fn()
        times.append(time.process_time() - t0)
    return statistics.median(times)


def sign_in(base_url: str) -> dict[str, str]:
    """Sign in as the seeded front-desk user; the headers a signed-in browser sends."""
    http = common.Http(base_url)
    status, body, headers = http.request("GET", "/admin/login")
    assert status == 200, status
    token = re.search(rb'name="csrftoken" value="([^"]+)"', body)
    assert token is not None
    cookies = {
        c.split("=", 1)[0]: c.split(";", 1)[0].split("=", 1)[1]
        for c in headers.get_all("set-cookie") or []
    }
    form = urlencode(
        {
            "email": "desk@bench.example",
            "password": "bench-password-not-used",
            "csrftoken": token.group(1).decode(),
        }
    ).encode()
    cookie = "; ".join(f"{k}={v}" for k, v in cookies.items())
    status, _, headers = http.request(
        "POST",
        "/admin/login",
        body=form,
        headers={"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie},
    )
    assert status == 303, status
    for c in headers.get_all("set-cookie") or []:
        name, value = c.split(";", 1)[0].split("=", 1)
        cookies[name] = value
    http.close()
    return {"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())}


def page_weight(http: common.Http, html: bytes) -> tuple[int, list[tuple[str, int]]]:
    assets = sorted(set(re.findall(rb'(?:href|src)="(/static/[^"]+)"', html)))
    sizes = []
    for path in assets:
        status, body, _ = http.request("GET", path.decode().replace("&amp;", "&"))
        assert status == 200, (path, status)
        sizes.append((path.decode(), len(body)))
    return len(html) + sum(n for _, n in sizes), sizes


def run(backend: str) -> None:
    common.banner(f"Day board, {CHAIRS} chairs, {BOOKINGS} bookings - {backend}")
    now = datetime.now(UTC)
    with common.fresh_database(backend, "pages") as url:
        engine = common.engine_for(url)
        with Session(engine) as session:
            clinic, day, booked = seed(session, now)
        print(f"seeded {booked} bookings on {day} (America/Denver)")

        common.section("SQL statements of board.service.day_board")
        with Session(engine) as session:
            statements = count_statements(session, clinic.location_id, day, now)
        print(
            f"{statements} statements for {booked} bookings "
            f"(target <= {TARGET_STATEMENTS}: {common.verdict(statements <= TARGET_STATEMENTS)})"
        )

        common.section("in process, CPU time of this process (median; the machine's load aside)")
        with Session(engine) as session:
            the_day = datetime.fromisoformat(day).date()
            page = board_service.day_board(
                session, location_id=clinic.location_id, day=the_day, now=now
            )
            load = cpu_median(
                lambda: board_service.day_board(
                    session, location_id=clinic.location_id, day=the_day, now=now
                )
            )
        assert page is not None
        template = environment().get_template("board.html")
        context = {"page": page, "board": page.board, "show_cancelled": False, "nav": []}
        draw = cpu_median(lambda: template.render(context))
        print(f"day_board (5 SELECTs + layout)   {common.ms(load)}")
        print(f"render board.html                {common.ms(draw)}")

        with common.servers(url) as (base_url,):
            headers = sign_in(base_url)
            path = f"/admin/board?location={clinic.location_id}&date={day}"
            http = common.Http(base_url, headers)
            http.connect()
            for _ in range(WARM_UP):
                status, html, _ = http.request("GET", path)
                assert status == 200, (status, html[:300])
            latencies = []
            with common.CpuMeter() as cpu:
                for _ in range(REQUESTS):
                    t0 = time.perf_counter()
                    status, html, _ = http.request("GET", path)
                    latencies.append(time.perf_counter() - t0)
                    assert status == 200
            healthz = []
            for _ in range(REQUESTS):
                t0 = time.perf_counter()
                status, _, _ = http.request("GET", "/healthz")
                healthz.append(time.perf_counter() - t0)
            weight, assets = page_weight(http, html)
            http.close()
        engine.dispose()

    blocks = html.count(b'class="block ')
    assert blocks == booked, f"the page shows {blocks} blocks for {booked} bookings"
    common.section(f"HTTP GET {path.split('?')[0]} ({REQUESTS} sequential, signed in)")
    p50, p95, p99 = (common.percentile(latencies, q) * 1000 for q in (50, 95, 99))
    print(f"p50 {p50:.2f} ms  p95 {p95:.2f} ms  p99 {p99:.2f} ms")
    print(f"p95 target <= {TARGET_P95_MS:.0f} ms: {common.verdict(p95 <= TARGET_P95_MS)}")
    print(cpu.per_request_ms(REQUESTS))
    h50, h95 = (common.percentile(healthz, q) * 1000 for q in (50, 95))
    print(f"for scale, GET /healthz on the same server: p50 {h50:.2f} ms  p95 {h95:.2f} ms")
    common.section("page weight (uncompressed)")
    print(f"HTML {len(html) / 1024:.1f} KB")
    for name, size in assets:
        print(f"  {name.split('?')[0]:<28} {size / 1024:6.1f} KB")
    kb = weight / 1024
    print(
        f"total {kb:.1f} KB (target <= {TARGET_WEIGHT_KB:.0f} KB: "
        f"{common.verdict(kb <= TARGET_WEIGHT_KB)})"
    )


def main() -> None:
    args = common.parse_args(__doc__.splitlines()[0] if __doc__ else "")
    print(common.machine_line())
    for backend in args.backends:
        run(backend)


if __name__ == "__main__":
    main()
