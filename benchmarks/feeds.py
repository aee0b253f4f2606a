"""A provider's calendar feed with 2,000 events: cold render, and the 304 path vs a trivial 304.

Seeds one location (America/Denver, Mon-Fri 07:00-19:00, 10 chairs) where one provider has
exactly 2,000 events inside the feed window (past 30 days to next 180: fulfilled visits, booked
ones, and 40 recently cancelled ones that stay in the feed as cancelled), and two colleagues
have about as many bookings again, which the feed must leave out. A feed token is stored
hashed, as the API would store it.

Prints the first request's time after the server started (cold), the median of further full
renders over HTTP, ``render_feed`` and ``build_calendar`` medians in process, and the
throughput of ``If-None-Match`` revalidation (304) against a trivial route served the same
way (``benchmarks/trivial_app.py``: a ``DirectRoute`` answering 304 from the feed threads) at
the same concurrency, with their ratio: the feed's own cost, not a difference of routing.

    .venv/bin/python benchmarks/feeds.py [--backend sqlite|postgresql|both]
"""

from __future__ import annotations

import random
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import _common as common
from sqlalchemy import text
from sqlmodel import Session
from trivial_app import TRIVIAL_PATH

from scheduler.feeds import service as feed_service
from scheduler.feeds.cache import FeedRenderCache
from scheduler.feeds.repository import feed_rows
from scheduler.kit.secrets import hash_token, new_token
from scheduler.models import FeedToken

EVENTS = 2000
CANCELLED_EVERY = 50
THREADS = 8
NOT_MODIFIED_REQUESTS = 3000  # or 20 s, whichever comes first (a 304 may render the feed)
HEALTHZ_REQUESTS = 6000
WARM_RENDERS = 5
INPROCESS_RUNS = 5
TARGET_COLD_MS = 150.0
TARGET_RATIO = 0.5
INFUSION = {
    "name": "Ketamine infusion",
    "phases": common.INFUSION_PHASES,
    "turnover_minutes": 15,
    "slot_step_minutes": 15,
    "min_notice_minutes": 60,
    "max_days_ahead": 180,
}


def seed(session: Session, now: datetime) -> tuple[int, str, Counter[str]]:
    clinic = common.seed_clinic(
        session, chairs=10, providers=3, patients=1500, types={"infusion": INFUSION}
    )
    rng = random.Random(11)
    today = now.astimezone(common.ZONE).date()
    # Whole local days strictly inside the feed window [now - 30 d, now + 180 d).
    days = common.weekdays(today - timedelta(days=29), 29 + 180)
    phases = common.to_phases(common.INFUSION_PHASES)
    subject = clinic.provider_ids[0]
    mine = common.greedy_schedule(
        clinic=clinic,
        phases=phases,
        turnover_minutes=15,
        days=days,
        per_day=-(-EVENTS // len(days)) + 1,
        rng=rng,
        provider_ids=[subject],
    )
    if len(mine) < EVENTS:
        raise RuntimeError(f"only {len(mine)} visits fit; the feed needs {EVENTS}")
    mine = sorted(rng.sample(mine, EVENTS), key=lambda c: c.start_at)
    others = common.greedy_schedule(
        clinic=clinic,
        phases=phases,
        turnover_minutes=15,
        days=days,
        per_day=14,
        rng=rng,
        existing=mine,
        provider_ids=clinic.provider_ids[1:],
    )
    rows = []
    counts: Counter[str] = Counter()
    for i, c in enumerate([*mine, *others]):
        ours = i < len(mine)
        if ours and i % CANCELLED_EVERY == CANCELLED_EVERY - 1:
            status, stamp = "cancelled", now - timedelta(days=2)
        else:
            status = "fulfilled" if c.start_at < now else "booked"
            stamp = min(now, c.start_at) - timedelta(days=10)
        counts[f"{'feed provider' if ours else 'other providers'} {status}"] += 1
        rows.append(
            common.booking_row(
                c,
                type_id=clinic.type_ids["infusion"],
                location_id=clinic.location_id,
                patient_id=0,
                status=status,
                raw_phases=common.INFUSION_PHASES,
                created_at=stamp,
                rng=rng,
            )
        )
    rows.sort(key=lambda r: r["start_at"])
    for i, row in enumerate(rows):
        row["patient_id"] = clinic.patient_ids[i % len(clinic.patient_ids)]
    common.insert_bookings(session, rows)
    secret = new_token()
    session.add(
        FeedToken(
            token_hash=hash_token(secret),
            provider_id=subject,
            label="benchmark",
            created_at=common.EPOCH,
        )
    )
    session.commit()
    if session.get_bind().dialect.name == "postgresql":
        # Autovacuum would long have vacuumed 4,000 fresh rows in a real database (inserts
        # trigger it since PostgreSQL 13): the visibility map lets the feed validator read
        # its index alone. Without it every check also visits the rows' pages.
        with session.get_bind().connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE"))
    return subject, secret, counts


def run(backend: str) -> dict[str, Any]:
    common.banner(f"feeds.py on {backend}")
    out: dict[str, Any] = {"backend": backend}
    with common.fresh_database(backend, "feeds") as url:
        engine = common.engine_for(url)
        settings = common.settings_for(url)
        now = datetime.now(UTC)
        t0 = time.perf_counter()
        with Session(engine) as session:
            subject, secret, counts = seed(session, now)
        print(
            f"seeded in {time.perf_counter() - t0:.1f} s: "
            + ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))
        )
        path = f"/feeds/{secret}.ics"

        common.section("HTTP: the first request after the server started, then warm renders")
        with common.servers(url, factory="benchmarks.trivial_app:create_app") as (base,):
            client = common.Http(base)
            t0 = time.perf_counter()
            status, body, headers = client.request("GET", path)
            cold = time.perf_counter() - t0
            if status != 200:
                raise RuntimeError(f"feed answered {status}: {body[:300]!r}")
            events = body.count(b"BEGIN:VEVENT")
            etag = headers["ETag"]
            warm = []
            for _ in range(WARM_RENDERS):
                t0 = time.perf_counter()
                status, again, _ = client.request("GET", path)
                warm.append(time.perf_counter() - t0)
                assert status == 200
                assert again == body, "two renders of unchanged data must be byte-identical"
            t0 = time.perf_counter()
            status, _, _ = client.request("GET", path, headers={"If-None-Match": etag})
            single_304 = time.perf_counter() - t0
            assert status == 304
            client.close()
            print(f"feed: {events} events, {len(body) / 1024:.0f} KiB, ETag {etag}")
            print(f"cold (first request):   {common.ms(cold)}")
            print(f"warm full render (200): median {common.ms(common.percentile(warm, 50))}")
            print(f"one 304 revalidation:   {common.ms(single_304)}")
            cold_ok = common.verdict(cold * 1000 <= TARGET_COLD_MS)
            print(f"target cold <= {TARGET_COLD_MS:.0f} ms: {cold_ok}")
            if events != EVENTS:
                raise RuntimeError(f"expected {EVENTS} events in the feed, got {events}")

            common.section(f"throughput at {THREADS} concurrent connections, 1 server process")

            def not_modified(c: common.Http, _: int) -> int:
                return c.request("GET", path, headers={"If-None-Match": etag})[0]

            def trivial(c: common.Http, _: int) -> int:  # served as the feed is
                return c.request("GET", TRIVIAL_PATH, headers={"If-None-Match": "x"})[0]

            common.run_load([base], threads=THREADS, total=THREADS, call=not_modified)
            r304 = common.run_load(
                [base],
                threads=THREADS,
                total=NOT_MODIFIED_REQUESTS,
                call=not_modified,
                max_seconds=20,
            )
            common.run_load([base], threads=THREADS, total=200, call=trivial)
            rhz = common.run_load([base], threads=THREADS, total=HEALTHZ_REQUESTS, call=trivial)
        print(r304.line("GET feed, If-None-Match (304)"))
        print(rhz.line("GET trivial DirectRoute (304)"))
        ratio = r304.throughput / rhz.throughput
        print(
            f"304 / trivial 304 = {ratio * 100:.1f} %; "
            f"target >= {TARGET_RATIO * 100:.0f} %: {common.verdict(ratio >= TARGET_RATIO)}"
        )
        if set(r304.statuses) != {304} or set(rhz.statuses) != {304}:
            raise RuntimeError(f"unexpected statuses {r304.statuses} {rhz.statuses}")

        common.section("in process")
        captured: list[dict[str, Any]] = []
        real_build = feed_service.build_calendar

        def capture(**kwargs: Any) -> bytes:
            captured.append(kwargs)
            return real_build(**kwargs)

        cache = FeedRenderCache(settings.feed_cache_max_bytes)  # as the server keeps one

        def render() -> Any:
            return feed_service.render_feed(
                session, secret, settings=settings, now=now, cache=cache
            )

        with Session(engine) as session:
            feed_service.build_calendar = capture  # only to get the events it is given
            try:
                t0 = time.perf_counter()
                render()
                first_s = time.perf_counter() - t0
            finally:
                feed_service.build_calendar = real_build
            if not captured:
                raise RuntimeError("render_feed did not call build_calendar on its first call")
            render_s, _ = common.median_time(render, INPROCESS_RUNS)
            rows_s, _ = common.median_time(
                lambda: feed_rows(
                    session,
                    provider_id=subject,
                    location_id=None,
                    window=feed_service.feed_window(settings, now),
                    with_patients=settings.feed_privacy == "type_and_initials",
                    limit=feed_service.MAX_FEED_EVENTS,
                    cancelled_limit=feed_service.MAX_FEED_CANCELLATIONS,
                ),
                INPROCESS_RUNS,
            )
            check_s, _ = common.median_time(
                lambda: feed_service.plan_feed(
                    session.connection(), secret, settings=settings, now=now
                ),
                INPROCESS_RUNS * 20,
            )
        build_s, _ = common.median_time(lambda: real_build(**captured[0]), INPROCESS_RUNS)
        print(f"render_feed, first call in this process:     {common.ms(first_s)}")
        print(f"render_feed, repeated (src caches count):    median {common.ms(render_s)}")
        print(f"feed_rows (the query):                       median {common.ms(rows_s)}")
        print(f"plan_feed (token + validator, the 304 work): median {common.ms(check_s)}")
        print(f"build_calendar (icalendar, pure, uncached):  median {common.ms(build_s)}")
        engine.dispose()
    out.update(
        cold=cold,
        warm=common.percentile(warm, 50),
        r304=r304,
        rhz=rhz,
        ratio=ratio,
        first=first_s,
        render=render_s,
        rows=rows_s,
        check=check_s,
        build=build_s,
    )
    return out


def main() -> None:
    args = common.parse_args(__doc__.splitlines()[0])
    print(f"machine: {common.machine_line()}")
    results = [run(backend) for backend in args.backends]
    common.banner("summary")
    print(
        f"{'backend':<12}{'cold':>9}{'warm 200':>10}{'1st render':>12}{'feed_rows':>11}"
        f"{'build_cal':>11}{'304/s':>9}{'trivial/s':>11}{'ratio':>8}"
    )
    for r in results:
        print(
            f"{r['backend']:<12}{r['cold'] * 1000:>6.0f} ms{r['warm'] * 1000:>7.0f} ms"
            f"{r['first'] * 1000:>9.0f} ms{r['rows'] * 1000:>8.0f} ms{r['build'] * 1000:>8.0f} ms"
            f"{r['r304'].throughput:>9.1f}{r['rhz'].throughput:>11.0f}{r['ratio'] * 100:>7.1f}%"
        )


if __name__ == "__main__":
    main()
