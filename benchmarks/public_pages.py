"""The patient booking pages on the slot benchmark's clinic: time to first byte.

Seeds the clinic of ``benchmarks/slots.py`` (America/Denver, 10 chairs, 6 providers, ~5,000
bookings over 90 days), makes its consultation self-schedulable, and measures over HTTP (one
uvicorn process, production settings) the time to first byte (request sent -> status line and
headers received) of:

- ``GET /book/types?location=`` (the first page; ``/book`` itself is a redirect to it when
  there is one location) and ``GET /book`` (that redirect);
- ``GET /book/times?location=&type=&day=`` for a busy weekday: the month grid (one slot
  search over the month) and that day's free times.

200 sequential requests each after 10 warm-up requests; target p95 <= 50 ms.

    .venv/bin/python benchmarks/public_pages.py [--backend sqlite|postgresql|both]
"""

from __future__ import annotations

import http.client
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import _common as common
import slots
from sqlmodel import Session

from scheduler.models import AppointmentType

WARM_UP = 10
REQUESTS = 200
TARGET_P95_MS = 50.0


def ttfb(connection: http.client.HTTPConnection, path: str, expect: int) -> float:
    t0 = time.perf_counter()
    connection.request("GET", path)
    response = connection.getresponse()
    first = time.perf_counter() - t0
    response.read()
    assert response.status == expect, (path, response.status)
    return first


def run(backend: str) -> None:
    common.banner(f"Patient booking pages on the slot benchmark's clinic - {backend}")
    now = datetime.now(UTC)
    first_day = now.astimezone(common.ZONE).date() + timedelta(days=1)
    with common.fresh_database(backend, "public_pages") as url:
        engine = common.engine_for(url)
        with Session(engine) as session:
            clinic, counts = slots.seed(session, first_day)
            consult = session.get(AppointmentType, clinic.type_ids["consult"])
            assert consult is not None
            consult.self_schedulable = True
            session.add(consult)
            session.commit()
        engine.dispose()
        print(f"seeded {sum(counts.values())} bookings from {first_day}")
        day = first_day + timedelta(days=1)
        while day.weekday() >= 5:
            day += timedelta(days=1)
        location, kind = clinic.location_id, clinic.type_ids["consult"]
        paths = {
            "/book (redirect)": ("/book", 303),
            "/book/types": (f"/book/types?location={location}", 200),
            "/book/times (month + day)": (
                f"/book/times?location={location}&type={kind}&day={day.isoformat()}",
                200,
            ),
        }
        with common.servers(url) as (base_url,):
            parts = urlsplit(base_url)
            connection = http.client.HTTPConnection(parts.hostname or "", parts.port)
            for name, (path, status) in paths.items():
                for _ in range(WARM_UP):
                    ttfb(connection, path, status)
                times = [ttfb(connection, path, status) for _ in range(REQUESTS)]
                p50, p95, p99 = (common.percentile(times, q) * 1000 for q in (50, 95, 99))
                common.section(f"TTFB GET {name} ({REQUESTS} sequential)")
                print(f"p50 {p50:.2f} ms  p95 {p95:.2f} ms  p99 {p99:.2f} ms")
                print(
                    f"p95 target <= {TARGET_P95_MS:.0f} ms: {common.verdict(p95 <= TARGET_P95_MS)}"
                )
            connection.close()


def main() -> None:
    args = common.parse_args(__doc__ or "")
    print(common.machine_line())
    for backend in args.backends:
        run(backend)


if __name__ == "__main__":
    main()
