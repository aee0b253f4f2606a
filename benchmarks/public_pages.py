"""The patient booking pages on the slot benchmark's clinic: time to first byte.

Seeds the clinic of ``benchmarks/slots.py`` (America/Denver, 10 chairs, 6 providers, ~5,000
bookings over 90 days), makes its consultation self-schedulable, and measures over HTTP (one
uvicorn process, production settings) the time to first byte (request sent -> status line and
headers received) and the server CPU time per request of:

- ``GET /book/types?location=`` (the first page; ``/book`` itself is a redirect to it when
  there is one location) and ``GET /book`` (that redirect);
- ``GET /book/times?location=&type=&day=`` for a busy weekday: the month grid (which dates of
  the month have a free time) and that day's free times; and ``GET /book/times?...&month=``,
  the month grid alone.

200 sequential requests each after 10 warm-up requests, in 4 rounds of 50; target p95 <= 50 ms.
The machine's load average is printed with each figure: on a shared machine the CPU time per
request is the figure to compare, wall-clock times include waiting for a CPU. The same
requests repeat, so after the first one the month grid comes from the app's cache
(``availability/cache.py``) whenever its validator still matches, as for patients browsing a
clinic whose calendar changes less often than it is looked at.

``--compare`` also serves the time picker as it was before from a second server on the same
database, its rounds interleaved with the current one's: ``uncached`` (the default) the
current app without the month grid's cache (``benchmarks/uncached_picker.py``),
``month-wide`` the picker before ``public/free_days.py`` (a search building every slot of
the month, ``benchmarks/month_wide_picker.py``). It also times the service paths in process
(CPU time of this process, median) and counts the SQL statements of one ``/book/times``
request of each app (in process, every statement the driver is sent).

    .venv/bin/python benchmarks/public_pages.py [--backend sqlite|postgresql|both]
        [--compare [uncached|month-wide]]
"""

from __future__ import annotations

import argparse
import http.client
import importlib
import os
import statistics
import time
from collections.abc import Callable
from contextlib import ExitStack
from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlsplit

import _common as common
import slots
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event
from sqlmodel import Session
from tests.conftest import TEST_SECRET
from tests.driver_trace import Sent, statements, trace

from scheduler.availability.cache import OpenStartsCache
from scheduler.config import get_settings
from scheduler.models import AppointmentType
from scheduler.public import service
from scheduler.public.free_days import free_days
from scheduler.web.patient_view import local_day_bounds, month_bounds

WARM_UP = 10
REQUESTS = 200
ROUNDS = 4
INPROCESS_RUNS = 30
TARGET_P95_MS = 50.0
OLD_FACTORIES = {
    "uncached": "benchmarks.uncached_picker:create_app",
    "month-wide": "benchmarks.month_wide_picker:create_app",
}


def ttfb(connection: http.client.HTTPConnection, path: str, expect: int) -> float:
    try:
        t0 = time.perf_counter()
        connection.request("GET", path)
        response = connection.getresponse()
    except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
        # The server closed the idle keep-alive connection (while the other one was measured).
        connection.close()
        t0 = time.perf_counter()
        connection.request("GET", path)
        response = connection.getresponse()
    first = time.perf_counter() - t0
    response.read()
    assert response.status == expect, (path, response.status)
    return first


def load_average() -> str:
    return "load average {:.1f} {:.1f} {:.1f}".format(*os.getloadavg())


def cpu_median(fn: Callable[[], object]) -> float:
    times = []
    for _ in range(INPROCESS_RUNS):
        t0 = time.process_time()
        fn()
        times.append(time.process_time() - t0)
    return statistics.median(times)


def in_process(url: str, location: int, kind: int, day: date) -> None:
    """CPU time of the service paths behind ``/book/times?day=`` (no HTTP, no render)."""
    settings = common.settings_for(url)
    engine = common.engine_for(url)
    zone = str(common.ZONE)
    now = datetime.now(UTC)
    start, end = month_bounds(day, zone)
    start = max(start, now)
    day_start, day_end = local_day_bounds(day, zone)
    ids = {"location_id": location, "appointment_type_id": kind}
    cache = OpenStartsCache(settings.free_days_cache_max_bytes)

    def month_wide() -> set[date]:
        found = service.find_times(
            session, **ids, start_at=start, end_at=end, now=now, settings=settings
        )
        return {s.start_at.astimezone(common.ZONE).date() for s in found.items}

    def grid(cached: bool) -> set[date]:
        return set(
            free_days(
                session,
                **ids,
                start_at=start,
                end_at=end,
                now=now,
                settings=settings,
                cache=cache if cached else None,
            )
        )

    def the_day() -> None:
        service.find_times(
            session,
            **ids,
            start_at=max(day_start, start),
            end_at=min(day_end, end),
            now=now,
            settings=settings,
        )

    with Session(engine) as session:
        assert month_wide() == grid(False) == grid(True) == grid(True), "the paths disagree"
        hits = cache.hits
        figures = {
            "month-wide find_times (before free_days)": cpu_median(month_wide),
            "free_days, no cache": cpu_median(lambda: grid(False)),
            "free_days, cached (validator + answer)": cpu_median(lambda: grid(True)),
            "the day's find_times": cpu_median(the_day),
        }
        assert cache.hits == hits + INPROCESS_RUNS, "the cached grid was not answered from it"
    engine.dispose()
    common.section(f"in process, CPU time (median of {INPROCESS_RUNS}; {load_average()})")
    for name, seconds in figures.items():
        print(f"{name:<44} {common.ms(seconds)}")


def statements_per_request(url: str, path: str, factories: dict[str, str]) -> None:
    """The SQL statements one request sends (the second of two: the first fills the cache),
    served in process by each app (``factories``: label -> ``module:create_app``)."""
    sent: list[Sent] = []

    def on_connect(driver: object, _record: object) -> None:
        trace(driver, sent)

    environment = {
        "SCHEDULER_DATABASE_URL": url,
        "SCHEDULER_ENVIRONMENT": "test",
        "SCHEDULER_SECRET_KEY": TEST_SECRET,
        "SCHEDULER_RATE_LIMIT_ENABLED": "false",
    }
    event.listen(Engine, "connect", on_connect)
    os.environ.update(environment)
    get_settings.cache_clear()
    common.section("SQL statements of one GET " + path.split("&day")[0] + "&day=...")
    try:
        for label, factory in factories.items():
            module, name = factory.split(":")
            app = getattr(importlib.import_module(module), name)()
            with TestClient(app) as client:
                assert client.get(path).status_code == 200
                sent.clear()
                assert client.get(path).status_code == 200
                count = len(statements(sent))
            print(f"{label + ':':<10} {count} statements")
    finally:
        event.remove(Engine, "connect", on_connect)
        for name in environment:
            del os.environ[name]
        get_settings.cache_clear()


def run(backend: str, compare: str | None) -> None:
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
        times = f"/book/times?location={location}&type={kind}"
        paths = {
            "/book (redirect)": ("/book", 303, False),
            "/book/types": (f"/book/types?location={location}", 200, False),
            "/book/times (month + day)": (f"{times}&day={day.isoformat()}", 200, True),
            "/book/times (month only)": (f"{times}&month={day:%Y-%m}", 200, True),
        }
        if compare:
            in_process(url, location, kind, day)
            statements_per_request(
                url,
                paths["/book/times (month + day)"][0],
                {"now": "scheduler.main:create_app", "before": OLD_FACTORIES[compare]},
            )
        factories = ["scheduler.main:create_app"] + ([OLD_FACTORIES[compare]] if compare else [])
        with ExitStack() as stack:
            base_urls = [stack.enter_context(common.servers(url, factory=f))[0] for f in factories]
            connections = []
            for base_url in base_urls:
                parts = urlsplit(base_url)
                connections.append(http.client.HTTPConnection(parts.hostname or "", parts.port))
            for name, (path, status, both) in paths.items():
                variants = list(zip(["now", "before"], connections, strict=False))
                if not both:
                    variants = variants[:1]
                measured = {label: ([], 0.0) for label, _ in variants}
                for _label, connection in variants:
                    for _ in range(WARM_UP):
                        ttfb(connection, path, status)
                for _ in range(ROUNDS):
                    for label, connection in variants:
                        with common.CpuMeter() as cpu:
                            got = [
                                ttfb(connection, path, status) for _ in range(REQUESTS // ROUNDS)
                            ]
                        latencies, servers = measured[label]
                        measured[label] = (latencies + got, servers + cpu.servers)
                common.section(f"TTFB GET {name} ({REQUESTS} sequential; {load_average()})")
                for label, (latencies, servers) in measured.items():
                    p50, p95, p99 = (common.percentile(latencies, q) * 1000 for q in (50, 95, 99))
                    print(
                        f"{label + ':':<8} p50 {p50:.2f} ms  p95 {p95:.2f} ms  p99 {p99:.2f} ms  "
                        f"server CPU {servers / len(latencies) * 1000:.1f} ms per request  "
                        f"(p95 <= {TARGET_P95_MS:.0f} ms: {common.verdict(p95 <= TARGET_P95_MS)})"
                    )
            for connection in connections:
                connection.close()


def main() -> None:
    def extra(parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--compare",
            nargs="?",
            const="uncached",
            choices=sorted(OLD_FACTORIES),
            help="also measure the time picker of before (second server): without the "
            "month grid's cache (uncached, the default) or building every slot (month-wide)",
        )

    args = common.parse_args(__doc__ or "", extra)
    print(common.machine_line())
    for backend in args.backends:
        run(backend, args.compare)


if __name__ == "__main__":
    main()
