"""Booking write throughput through real server processes, against a one-row read.

Seeds one location (America/Denver, Mon-Fri 07:00-19:00) with 20 providers who each do a
30-minute exclusive consultation (no chair; exclusive use means one patient per provider at a
time), and 2,064 patients. Then 16 client threads, each on its own keep-alive connection,
``POST /api/v1/bookings`` 2,000 times between them with distinct patients and a provider and
start each, as the front desk does after picking a slot. One request in 20 asks again for a
provider and start that an earlier request took, so those are refused with 409
``slot_unavailable`` (counted apart from the 201s). Every request carries an
``Idempotency-Key``. In the same run the same threads read bookings back with
``GET /api/v1/bookings/{id}``, and the ratio of the two throughputs is printed.

SQLite runs one server process (writes are serialized by the database anyway); PostgreSQL runs
two processes on the same database (``--pg-servers``), as docker-compose does.

    .venv/bin/python benchmarks/bookings.py [--backend sqlite|postgresql|both]
"""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from datetime import time as wall
from typing import Any

import _common as common
from sqlalchemy import text
from sqlmodel import Session

from scheduler.availability.engine import local_instant

THREADS = 16
BOOKINGS = 2000
READS = 4000
WARMUP = 64
PROVIDERS = 20
DUPLICATE_EVERY = 20  # every 20th request repeats an earlier provider and start: a 409
TARGET_RATE = 300.0
TARGET_P99_MS = 100.0
CONSULT = {
    "name": "Screening consultation",
    "phases": common.CONSULT_PHASES,
    "turnover_minutes": 0,
    "slot_step_minutes": 30,
    "min_notice_minutes": 0,
    "max_days_ahead": 365,
}


def plan_requests(
    clinic: common.ClinicIds, first_day: Any, count: int, patients: list[int]
) -> list[dict[str, Any]]:
    """Request bodies: (provider, start) pairs walk provider by provider through each day's
    30-minute starts, so concurrent requests rarely wait on one provider's lock."""
    type_id = clinic.type_ids["consult"]
    starts = [
        local_instant(day, wall(7 + i // 2, 30 * (i % 2)), common.ZONE)
        for day in common.weekdays(first_day, 60)
        for i in range(24)
    ]
    pairs = [(start, pid) for start in starts for pid in clinic.provider_ids]
    bodies: list[dict[str, Any]] = []
    fresh = 0
    for i in range(count):
        if i % DUPLICATE_EVERY == DUPLICATE_EVERY - 1:
            start, pid = pairs[max(0, fresh - 1 - 2 * PROVIDERS)]  # taken ~40 requests earlier
        else:
            start, pid = pairs[fresh]
            fresh += 1
        bodies.append(
            {
                "patient_id": patients[i],
                "appointment_type_id": type_id,
                "location_id": clinic.location_id,
                "start_at": start.isoformat(),
                "provider_id": pid,
            }
        )
    return bodies


def run(backend: str, pg_servers: int) -> dict[str, Any]:
    n_servers = 1 if backend == "sqlite" else pg_servers
    common.banner(f"bookings.py on {backend} ({n_servers} server process(es), {THREADS} threads)")
    out: dict[str, Any] = {"backend": backend, "servers": n_servers}
    with common.fresh_database(backend, "bookings") as url:
        engine = common.engine_for(url)
        with Session(engine) as session:
            clinic = common.seed_clinic(
                session,
                chairs=0,
                providers=PROVIDERS,
                patients=WARMUP + BOOKINGS,
                types={"consult": CONSULT},
                stagger=0,
            )
        token = common.staff_token(clinic.user_id)
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        # Start on the Monday after next, far from "now": min notice never interferes.
        today = datetime.now(UTC).astimezone(common.ZONE).date()
        first_day = today + timedelta(days=7 - today.weekday() + 7)
        bodies = plan_requests(clinic, first_day, WARMUP + BOOKINGS, clinic.patient_ids)
        warmup, measured = bodies[:WARMUP], bodies[WARMUP:]
        created: list[int] = []

        def book(batch: list[dict[str, Any]]) -> Any:
            def call(client: common.Http, i: int) -> int:
                status, body, _ = client.request(
                    "POST",
                    "/api/v1/bookings",
                    json.dumps(batch[i]).encode(),
                    {"Idempotency-Key": uuid.uuid4().hex},
                )
                if status == 201:
                    created.append(json.loads(body)["id"])
                elif status != 409:
                    raise RuntimeError(f"booking answered {status}: {body[:300]!r}")
                return status

            return call

        def read(client: common.Http, i: int) -> int:
            status, body, _ = client.request("GET", f"/api/v1/bookings/{created[i % len(created)]}")
            if status != 200:
                raise RuntimeError(f"read answered {status}: {body[:300]!r}")
            return status

        with common.servers(url, n_servers) as bases:
            common.run_load(
                bases, threads=THREADS, total=len(warmup), call=book(warmup), headers=headers
            )
            with common.CpuMeter() as write_cpu:
                writes = common.run_load(
                    bases,
                    threads=THREADS,
                    total=len(measured),
                    call=book(measured),
                    headers=headers,
                )
            common.run_load(bases, threads=THREADS, total=200, call=read, headers=headers)
            with common.CpuMeter() as read_cpu:
                reads = common.run_load(
                    bases, threads=THREADS, total=READS, call=read, headers=headers
                )

        with engine.connect() as conn:
            stored = conn.execute(text("SELECT COUNT(*) FROM booking")).scalar_one()
            audits = conn.execute(
                text("SELECT COUNT(*) FROM audit_event WHERE action = 'booking.create'")
            ).scalar_one()
        engine.dispose()

    expected_409 = sum(
        1 for i in range(WARMUP, WARMUP + BOOKINGS) if i % DUPLICATE_EVERY == DUPLICATE_EVERY - 1
    )
    common.section("results")
    print(writes.line("POST /api/v1/bookings"))
    print(reads.line("GET /api/v1/bookings/{id}"))
    print(f"bookings: {write_cpu.per_request_ms(writes.requests)}")
    print(f"reads:    {read_cpu.per_request_ms(reads.requests)}")
    print(
        f"201 created: {writes.statuses[201]}, 409 refused: {writes.statuses[409]} "
        f"(planned duplicates: {expected_409}); rows stored incl. warm-up: {stored}, "
        f"audit events: {audits}"
    )
    ok_201 = Counter(writes.statuses)[201] == BOOKINGS - expected_409
    rate = writes.throughput
    p99 = writes.p(99) * 1000
    print(f"booking throughput {rate:.0f}/s, p50 {writes.p(50) * 1000:.1f} ms, p99 {p99:.1f} ms")
    print(
        f"read throughput {reads.throughput:.0f}/s; bookings/reads = {rate / reads.throughput:.2f}"
    )
    print(
        f"target >= {TARGET_RATE:.0f} bookings/s: {common.verdict(rate >= TARGET_RATE)}; "
        f"target p99 <= {TARGET_P99_MS:.0f} ms: {common.verdict(p99 <= TARGET_P99_MS)}; "
        f"every planned slot booked once: {ok_201}"
    )
    out.update(writes=writes, reads=reads, write_cpu=write_cpu)
    return out


def main() -> None:
    def extra(parser: Any) -> None:
        parser.add_argument(
            "--pg-servers", type=int, default=2, choices=(1, 2, 3, 4), help="PostgreSQL servers"
        )

    args = common.parse_args(__doc__.splitlines()[0], extra)
    print(f"machine: {common.machine_line()}")
    started = time.perf_counter()
    results = [run(backend, args.pg_servers) for backend in args.backends]
    common.banner("summary")
    print(
        f"{'backend':<12}{'servers':>8}{'bookings/s':>12}{'p50':>10}{'p99':>10}"
        f"{'201':>6}{'409':>6}{'reads/s':>10}{'ratio':>8}"
    )
    for r in results:
        w, rd = r["writes"], r["reads"]
        print(
            f"{r['backend']:<12}{r['servers']:>8}{w.throughput:>12.0f}{w.p(50) * 1000:>7.1f} ms"
            f"{w.p(99) * 1000:>7.1f} ms{w.statuses[201]:>6}{w.statuses[409]:>6}"
            f"{rd.throughput:>10.0f}{w.throughput / rd.throughput:>8.2f}"
        )
    print(f"total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
