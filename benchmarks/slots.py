"""Slot search on a busy clinic: the pure engine, the HTTP endpoint, and a naive reference.

Seeds one location (America/Denver, Mon-Fri 07:00-19:00) with 10 chairs, 6 providers
(3 concurrent patients, starts 10 min apart), a ketamine infusion (15 min hands-on, 40 min
monitored, 45 min recovery, all in the chair; 15 min turnover; 15 min grid) and a 30 min
exclusive consultation, then ~5,000 bookings over the next 90 days. Every active booking sits at
a start the engine itself offered when it was placed, so none breaks a chair, capacity or
stagger rule (PostgreSQL's exclusion constraint would refuse a chair overlap anyway).

Prints (a) ``find_free_slots`` alone for 7/31/90-day windows, (b) p50/p95 of a provider-month
``GET /api/v1/slots`` through a real uvicorn process, (c) a naive implementation (SQL per
candidate start, per provider and per chair) on the same provider-month, and naive/ours.

    .venv/bin/python benchmarks/slots.py [--backend sqlite|postgresql|both]
"""

from __future__ import annotations

import random
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from datetime import time as wall
from typing import Any
from urllib.parse import urlencode

import _common as common
from sqlalchemy import select
from sqlmodel import Session, col

from scheduler.availability.engine import (
    Commitment,
    find_free_slots,
    grid_starts,
    local_instant,
    occupancy,
)
from scheduler.availability.service import load_context, search_slots
from scheduler.models import AppointmentType, Booking

TOTAL_BOOKINGS = 5000
INFUSIONS_PER_DAY = 40  # of at most 60 (10 chairs x 6 two-hour turns): a busy clinic
CONSULTS_PER_DAY = 30
HORIZON_DAYS = 90
HTTP_REQUESTS = 200
HTTP_WARMUP = 10
TARGET_P95_MS = 20.0
TARGET_RATIO = 100.0
ENGINE_RUNS = {7: 21, 31: 11, 90: 7}

INFUSION = {
    "name": "Ketamine infusion",
    "phases": common.INFUSION_PHASES,
    "turnover_minutes": 15,
    "slot_step_minutes": 15,
    "min_notice_minutes": 60,
    "max_days_ahead": 120,
}
CONSULT = {
    "name": "Screening consultation",
    "phases": common.CONSULT_PHASES,
    "turnover_minutes": 0,
    "slot_step_minutes": 15,
    "min_notice_minutes": 60,
    "max_days_ahead": 120,
}


def seed(session: Session, first_day: Any) -> tuple[common.ClinicIds, Counter[str]]:
    clinic = common.seed_clinic(
        session,
        chairs=10,
        providers=6,
        patients=1500,
        types={"infusion": INFUSION, "consult": CONSULT},
    )
    rng = random.Random(2026)
    days = common.weekdays(first_day, HORIZON_DAYS)
    infusion_phases = common.to_phases(common.INFUSION_PHASES)
    consult_phases = common.to_phases(common.CONSULT_PHASES)
    infusions = common.greedy_schedule(
        clinic=clinic,
        phases=infusion_phases,
        turnover_minutes=15,
        days=days,
        per_day=INFUSIONS_PER_DAY,
        rng=rng,
    )
    consults = common.greedy_schedule(
        clinic=clinic,
        phases=consult_phases,
        turnover_minutes=0,
        days=days,
        per_day=CONSULTS_PER_DAY,
        rng=rng,
        existing=infusions,
    )
    # The rest are cancelled infusions: stored, filtered out by status, never a constraint.
    cancelled: list[Commitment] = []
    for _ in range(max(0, TOTAL_BOOKINGS - len(infusions) - len(consults))):
        day = rng.choice(days)
        start = local_instant(day, wall(7 + rng.randrange(10), 15 * rng.randrange(4)), common.ZONE)
        cancelled.append(
            Commitment(
                start_at=start,
                phases=infusion_phases,
                turnover_minutes=15,
                chair_id=rng.choice(clinic.chair_ids),
                provider_id=rng.choice(clinic.provider_ids),
            )
        )
    created = datetime.now(UTC) - timedelta(days=3)
    plan = [
        (infusions, "infusion", "booked", common.INFUSION_PHASES),
        (consults, "consult", "booked", common.CONSULT_PHASES),
        (cancelled, "infusion", "cancelled", common.INFUSION_PHASES),
    ]
    rows = []
    counts: Counter[str] = Counter()
    for commitments, code, status, raw in plan:
        for c in commitments:
            rows.append(
                common.booking_row(
                    c,
                    type_id=clinic.type_ids[code],
                    location_id=clinic.location_id,
                    patient_id=clinic.patient_ids[len(rows) % len(clinic.patient_ids)],
                    status=status,
                    raw_phases=raw,
                    created_at=created,
                    rng=rng,
                )
            )
        counts[f"{code} {status}"] += len(commitments)
    # Patients rotate through 1,500 ids in start order, so nobody has two visits on one day.
    rows.sort(key=lambda r: r["start_at"])
    for i, row in enumerate(rows):
        row["patient_id"] = clinic.patient_ids[i % len(clinic.patient_ids)]
    common.insert_bookings(session, rows)
    return clinic, counts


# --- the naive reference ---------------------------------------------------------------------

UNITS = {"exclusive": None, "hands_on": 1, "monitor": 1, "none": 0}


def _units(use: str, capacity: int) -> int:
    u = UNITS[use]
    return capacity if u is None else u


def _inside(weekly: dict[int, list[tuple[wall, wall]]], start: datetime, end: datetime) -> bool:
    if start.date() != end.date() and end.time() != wall(0):
        return False
    return any(
        a <= start.time() and (end.time() <= b or b == wall(0))
        for a, b in weekly.get(start.weekday(), [])
    )


def naive_search(
    session: Session,
    clinic: common.ClinicIds,
    type_row: AppointmentType,
    provider_id: int,
    start_at: datetime,
    end_at: datetime,
    now: datetime,
    *,
    short_circuit: bool,
) -> tuple[list[tuple[datetime, frozenset[int]]], int]:
    """What a straightforward implementation does: walk the grid and, for every start inside
    hours, ask the database about the provider's overlapping bookings and about each chair.
    Cheap checks (notice, horizon, hours) come first, without SQL. With ``short_circuit`` the
    chairs are only asked when the provider fits, which flatters this reference."""
    phases = common.to_phases(type_row.phases)
    capacity, gap = clinic.max_concurrent, timedelta(minutes=clinic.stagger)
    hours: dict[int, list[tuple[wall, wall]]] = {}
    for weekday, a, b in clinic.opening_hours:
        hours.setdefault(weekday, []).append((a, b))
    rules: dict[int, list[tuple[wall, wall]]] = {}
    for weekday, a, b in clinic.weekly:
        rules.setdefault(weekday, []).append((a, b))
    earliest = now + timedelta(minutes=type_row.min_notice_minutes)
    horizon = now + timedelta(days=type_row.max_days_ahead)
    provider_q = select(col(Booking.start_at), col(Booking.phases)).where(
        col(Booking.provider_id) == provider_id, col(Booking.status).in_(common.ACTIVE_STATUSES)
    )
    chair_q = select(col(Booking.id)).where(col(Booking.status).in_(common.ACTIVE_STATUSES))
    queries = 0
    found: list[tuple[datetime, frozenset[int]]] = []
    for start in grid_starts(common.ZONE, type_row.slot_step_minutes, start_at, end_at):
        if start < earliest or start >= horizon:
            continue
        occ = occupancy(start, phases, type_row.turnover_minutes)
        local_start, local_end = start.astimezone(common.ZONE), occ.end_at.astimezone(common.ZONE)
        if not _inside(hours, local_start, local_end) or not _inside(rules, local_start, local_end):
            continue
        rows = session.execute(
            provider_q.where(col(Booking.start_at) < occ.end_at, col(Booking.end_at) > start)
        ).all()
        queries += 1
        fits = not any(abs(row.start_at - start) < gap for row in rows)
        loads = [
            load
            for row in rows
            for load in occupancy(row.start_at, common.to_phases(row.phases), 0)[1]
        ]
        for interval, use in occ.provider_loads:
            u = _units(use, capacity)
            if not u:
                continue
            points = [interval.start_at] + [
                other.start_at
                for other, _ in loads
                if interval.start_at < other.start_at < interval.end_at
            ]
            for t in points:
                used = sum(_units(w, capacity) for o, w in loads if o.start_at <= t < o.end_at)
                if used + u > capacity:
                    fits = False
            if use == "hands_on" and any(
                w == "hands_on" and o.start_at < interval.end_at and interval.start_at < o.end_at
                for o, w in loads
            ):
                fits = False
        if short_circuit and not fits:
            continue
        assert occ.chair_busy is not None
        free = []
        for chair_id in clinic.chair_ids:
            hit = session.execute(
                chair_q.where(
                    col(Booking.chair_id) == chair_id,
                    col(Booking.chair_start_at) < occ.chair_busy.end_at,
                    col(Booking.chair_end_at) > occ.chair_busy.start_at,
                ).limit(1)
            ).first()
            queries += 1
            if hit is None:
                free.append(chair_id)
        if fits and free:
            found.append((start, frozenset(free)))
    return found, queries


# --- the run ---------------------------------------------------------------------------------


def run(backend: str) -> dict[str, Any]:
    common.banner(f"slots.py on {backend}")
    out: dict[str, Any] = {"backend": backend}
    with common.fresh_database(backend, "slots") as url:
        engine = common.engine_for(url)
        now = datetime.now(UTC)
        first_day = now.astimezone(common.ZONE).date() + timedelta(days=1)
        t0 = time.perf_counter()
        with Session(engine) as session:
            clinic, counts = seed(session, first_day)
        seed_s = time.perf_counter() - t0
        total = sum(counts.values())
        print(
            f"seeded {total} bookings in {seed_s:.1f} s: "
            + ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))
        )
        out["bookings"] = total
        infusion_id = clinic.type_ids["infusion"]
        window_start = local_instant(first_day, wall(0), common.ZONE)
        provider = clinic.provider_ids[0]

        common.section("(a) pure engine: find_free_slots on a SlotQuery built once by load_context")
        print(f"{'window':<8}{'scope':<14}{'commitments':>12}{'slots':>8}{'median':>12}{'runs':>6}")
        engine_figures: dict[tuple[int, str], float] = {}
        with Session(engine) as session:
            for days, runs in ENGINE_RUNS.items():
                end = local_instant(first_day + timedelta(days=days), wall(0), common.ZONE)
                for scope, pid in (("clinic", None), ("1 provider", provider)):
                    ctx = load_context(
                        session,
                        location_id=clinic.location_id,
                        appointment_type_id=infusion_id,
                        provider_id=pid,
                        start_at=window_start,
                        end_at=end,
                        now=now,
                    )
                    slots = find_free_slots(ctx.query)
                    med, _ = common.median_time(lambda q=ctx.query: find_free_slots(q), runs)
                    engine_figures[(days, scope)] = med
                    print(
                        f"{days:>3} days {scope:<14}{len(ctx.query.commitments):>12}"
                        f"{len(slots):>8}{med * 1000:>9.2f} ms{runs:>6}"
                    )
        out["engine"] = engine_figures

        month_end = local_instant(first_day + timedelta(days=31), wall(0), common.ZONE)
        common.section("provider-month in process (same session work as the endpoint)")
        with Session(engine) as session:

            def load() -> Any:
                return load_context(
                    session,
                    location_id=clinic.location_id,
                    appointment_type_id=infusion_id,
                    provider_id=provider,
                    start_at=window_start,
                    end_at=month_end,
                    now=now,
                )

            def ours() -> list[Any]:
                return find_free_slots(load().query)

            def service() -> Any:
                return search_slots(
                    session,
                    location_id=clinic.location_id,
                    appointment_type_id=infusion_id,
                    provider_id=provider,
                    start_at=window_start,
                    end_at=month_end,
                    now=now,
                )

            for fn in (load, ours, service):  # warm the statement caches
                fn()
            load_s, _ = common.median_time(load, 21)
            ours_s, _ = common.median_time(ours, 21)
            service_s, _ = common.median_time(service, 21)
            ours_slots = ours()
        print(f"load_context (2 SQL statements)          median {common.ms(load_s)}")
        print(f"load_context + find_free_slots           median {common.ms(ours_s)}")
        print(f"service.search_slots (+ response models) median {common.ms(service_s)}")
        out["ours_s"] = ours_s

        common.section(f"(b) HTTP GET /api/v1/slots, provider-month, {HTTP_REQUESTS} sequential")
        token = common.staff_token(clinic.user_id)
        latencies: list[float] = []
        sizes: list[int] = []
        with common.servers(url) as (base,):
            client = common.Http(base, {"Authorization": f"Bearer {token}"})
            for i in range(HTTP_WARMUP + HTTP_REQUESTS):
                params = urlencode(
                    {
                        "appointment_type": infusion_id,
                        "location": clinic.location_id,
                        "start": window_start.astimezone(common.ZONE).isoformat(),
                        "end": month_end.astimezone(common.ZONE).isoformat(),
                        "provider": clinic.provider_ids[i % len(clinic.provider_ids)],
                    }
                )
                t0 = time.perf_counter()
                status, body, _ = client.request("GET", f"/api/v1/slots?{params}")
                elapsed = time.perf_counter() - t0
                if status != 200:
                    raise RuntimeError(f"slot search answered {status}: {body[:300]!r}")
                if i >= HTTP_WARMUP:
                    latencies.append(elapsed)
                    sizes.append(len(body))
            client.close()
        p50, p95, p99 = (common.percentile(latencies, q) for q in (50, 95, 99))
        print(
            f"p50 {common.ms(p50)}  p95 {common.ms(p95)}  p99 {common.ms(p99)}  "
            f"max {common.ms(max(latencies))}  (responses {min(sizes) // 1024}-"
            f"{max(sizes) // 1024} KiB, providers rotated over all 6)"
        )
        print(
            f"target p95 <= {TARGET_P95_MS:.0f} ms: {common.verdict(p95 * 1000 <= TARGET_P95_MS)}"
        )
        out.update(http_p50=p50, http_p95=p95, http_p99=p99)

        common.section("(c) naive reference on the same provider-month, timed once")
        with Session(engine) as session:
            type_row = session.get(AppointmentType, infusion_id)
            assert type_row is not None
            expected = [(s.start_at, frozenset(s.chair_ids)) for s in ours_slots]
            for label, short_circuit in (
                ("naive, chairs asked only when the provider fits", True),
                ("naive, provider and every chair asked", False),
            ):
                t0 = time.perf_counter()
                naive, queries = naive_search(
                    session,
                    clinic,
                    type_row,
                    provider,
                    window_start,
                    month_end,
                    now,
                    short_circuit=short_circuit,
                )
                naive_s = time.perf_counter() - t0
                agree = naive == expected
                ratio = naive_s / ours_s
                print(
                    f"{label}: {common.ms(naive_s)}, {queries} SQL queries, {len(naive)} slots "
                    f"(same starts and chairs as the engine: {agree})\n"
                    f"    naive / ours in process: {ratio:.1f}x; naive / HTTP p50: "
                    f"{naive_s / p50:.1f}x; target >= {TARGET_RATIO:.0f}x: "
                    f"{common.verdict(ratio >= TARGET_RATIO)}"
                )
                if not agree:
                    raise RuntimeError("the naive reference and the engine disagree")
                key = "short" if short_circuit else "full"
                out.update({f"naive_{key}_s": naive_s, f"ratio_{key}": ratio})
        engine.dispose()
    return out


def main() -> None:
    args = common.parse_args(__doc__.splitlines()[0])
    print(f"machine: {common.machine_line()}")
    results = [run(backend) for backend in args.backends]
    common.banner("summary")
    print(
        f"{'backend':<12}{'engine 31d':>12}{'1 prov.':>11}{'ours':>11}"
        f"{'HTTP p50':>11}{'HTTP p95':>11}{'naive/ours':>16}"
    )
    for r in results:
        print(
            f"{r['backend']:<12}{r['engine'][(31, 'clinic')] * 1000:>9.2f} ms"
            f"{r['engine'][(31, '1 provider')] * 1000:>8.2f} ms"
            f"{r['ours_s'] * 1000:>8.2f} ms{r['http_p50'] * 1000:>8.2f} ms"
            f"{r['http_p95'] * 1000:>8.2f} ms{r['ratio_short']:>7.0f}x /{r['ratio_full']:>4.0f}x"
        )
    print(
        "engine = find_free_slots alone on a 31-day window (clinic-wide, one provider); ours = "
        "load_context + find_free_slots for a provider-month in process; naive/ours: "
        "short-circuit / full naive"
    )


if __name__ == "__main__":
    main()
