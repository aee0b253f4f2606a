"""Placing a treatment series on the slot benchmark's busy clinic.

Seeds the busy clinic of ``benchmarks/slots.py`` (10 chairs, 6 providers, ~5,000 bookings over
90 days) and a 6-visit induction template (21-day window, 48-120 h apart, at most 3 a week,
same time of day and same chair preferred). Then, for first days spread over the next weeks:

(a) the pure placer alone (``place_series`` on the free starts, loaded once),
(b) ``series.service.preview_series`` in process (the whole preview: template, patient,
    one ``load_context`` for window + alternative days, the engine, the placer), with its
    SQL statement count,
(c) ``POST /api/v1/series/preview`` through a real uvicorn process: p50/p95.

    .venv/bin/python benchmarks/series.py [--backend sqlite|postgresql|both]
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from datetime import time as wall
from typing import Any
from zoneinfo import ZoneInfo

import _common as common
import slots
from sqlalchemy import event
from sqlmodel import Session

from scheduler.availability.engine import find_free_slots, local_instant
from scheduler.availability.service import load_context
from scheduler.models import SeriesTemplate
from scheduler.series.placer import Candidate, SeriesPlan, SeriesRules, place_series
from scheduler.series.schemas import SeriesRequest
from scheduler.series.service import preview_series

RUNS = 40
HTTP_REQUESTS = 100
HTTP_WARMUP = 5
TARGET_P95_MS = 100.0


def run(backend: str) -> dict[str, Any]:
    common.banner(f"series.py on {backend}")
    out: dict[str, Any] = {"backend": backend}
    with common.fresh_database(backend, "series") as url:
        engine = common.engine_for(url)
        now = datetime.now(UTC)
        first_day = now.astimezone(common.ZONE).date() + timedelta(days=1)
        with Session(engine) as session:
            clinic, counts = slots.seed(session, first_day)
            template = SeriesTemplate(
                appointment_type_id=clinic.type_ids["infusion"],
                name="Induction",
                visit_count=6,
                window_days=21,
                min_gap_hours=48,
                max_gap_hours=120,
                max_per_week=3,
                booster_interval_days=28,
                prefer_same_time=True,
                prefer_same_chair=True,
                created_at=now,
                updated_at=now,
            )
            session.add(template)
            session.commit()
            template_id = template.id or 0
        print(f"seeded {sum(counts.values())} bookings")
        days = [first_day + timedelta(days=7 + i) for i in range(RUNS)]
        days = [d for d in days if d.weekday() < 5]
        bodies = [
            SeriesRequest(
                patient_id=clinic.patient_ids[i],
                template_id=template_id,
                location_id=clinic.location_id,
                first_day=d,
            )
            for i, d in enumerate(days)
        ]

        common.section("(a) pure placer on the free starts of window + 7 days (loaded once)")
        zone = ZoneInfo(common.ZONE.key)
        placer_times: list[float] = []
        scores = []
        with Session(engine) as session:
            for d in days:
                ctx = load_context(
                    session,
                    location_id=clinic.location_id,
                    appointment_type_id=clinic.type_ids["infusion"],
                    provider_id=None,
                    start_at=local_instant(d, wall(0), zone),
                    end_at=local_instant(d + timedelta(days=28), wall(0), zone),
                    now=now,
                )
                candidates = [
                    Candidate(s.start_at, s.chair_ids, s.provider_ids)
                    for s in find_free_slots(ctx.query)
                ]
                rules = SeriesRules(
                    visit_count=6,
                    first_day=d,
                    window_days=21,
                    min_gap=timedelta(hours=48),
                    max_gap=timedelta(hours=120),
                    max_per_week=3,
                    same_time=True,
                    same_chair=True,
                )
                t0 = time.perf_counter()
                plan = place_series(candidates, rules, zone)
                placer_times.append(time.perf_counter() - t0)
                scores.append(plan.score if isinstance(plan, SeriesPlan) else -1)
        print(
            f"{len(days)} first days, {len(candidates)} free starts in the last window: "
            f"p50 {common.ms(common.percentile(placer_times, 50))}  "
            f"p95 {common.ms(common.percentile(placer_times, 95))}  "
            f"(scores of 10: {sorted(scores)})"
        )
        out["placer_p95"] = common.percentile(placer_times, 95)

        common.section("(b) preview_series in process, with its SQL statements")
        statements = 0

        def count(*_: Any) -> None:
            nonlocal statements
            statements += 1

        event.listen(engine, "before_cursor_execute", count)
        service_times: list[float] = []
        per_call: list[int] = []
        with Session(engine) as session:
            preview_series(session, bodies[0], now=now)  # warm the caches
            for body in bodies:
                before = statements
                t0 = time.perf_counter()
                preview = preview_series(session, body, now=now)
                service_times.append(time.perf_counter() - t0)
                per_call.append(statements - before)
                assert preview.feasible, preview.problem
        event.remove(engine, "before_cursor_execute", count)
        print(
            f"p50 {common.ms(common.percentile(service_times, 50))}  "
            f"p95 {common.ms(common.percentile(service_times, 95))}  "
            f"SQL statements per preview: {min(per_call)}-{max(per_call)}"
        )
        out["service_p95"] = common.percentile(service_times, 95)
        out["statements"] = max(per_call)

        common.section(f"(c) HTTP POST /api/v1/series/preview, {HTTP_REQUESTS} sequential")
        token = common.staff_token(clinic.user_id)
        latencies: list[float] = []
        with common.servers(url) as (base,):
            client = common.Http(
                base, {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
            )
            for i in range(HTTP_WARMUP + HTTP_REQUESTS):
                body = bodies[i % len(bodies)].model_dump_json().encode()
                t0 = time.perf_counter()
                status, data, _ = client.request("POST", "/api/v1/series/preview", body=body)
                elapsed = time.perf_counter() - t0
                if status != 200 or not json.loads(data)["feasible"]:
                    raise RuntimeError(f"preview answered {status}: {data[:300]!r}")
                if i >= HTTP_WARMUP:
                    latencies.append(elapsed)
            client.close()
        p50, p95 = (common.percentile(latencies, q) for q in (50, 95))
        print(
            f"p50 {common.ms(p50)}  p95 {common.ms(p95)}  target p95 <= {TARGET_P95_MS:.0f} ms: "
            f"{common.verdict(p95 * 1000 <= TARGET_P95_MS)}"
        )
        out.update(http_p50=p50, http_p95=p95)
        engine.dispose()
    return out


def main() -> None:
    args = common.parse_args(__doc__.splitlines()[0])
    print(f"machine: {common.machine_line()}")
    results = [run(backend) for backend in args.backends]
    common.banner("summary")
    for r in results:
        print(
            f"{r['backend']:<12} placer p95 {common.ms(r['placer_p95'])}  preview in process "
            f"p95 {common.ms(r['service_p95'])} ({r['statements']} SQL)  HTTP p50 "
            f"{common.ms(r['http_p50'])} p95 {common.ms(r['http_p95'])}"
        )


if __name__ == "__main__":
    main()
