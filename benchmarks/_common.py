"""Shared plumbing for the benchmark scripts: databases, seeding, servers, HTTP load, figures.

Not a test module and not part of the application. Every database is created fresh (a SQLite
file in a temporary directory, or a PostgreSQL database on 127.0.0.1 that is dropped again),
migrated with the project's own migrations, and seeded directly through the ORM.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import os
import platform
import random
import statistics
import sys
import tempfile
import threading
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as wall
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

# The scripts run as `python benchmarks/<name>.py`: make `tests` (live server, test secret)
# importable next to the installed `scheduler` package.
ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
# tests.conftest imports FastAPI's TestClient, which warns about httpx; not our concern here.
warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")

from sqlalchemy import create_engine, insert, text  # noqa: E402
from sqlalchemy.engine import Engine, make_url  # noqa: E402
from sqlmodel import Session  # noqa: E402
from tests.conftest import TEST_SECRET, make_settings  # noqa: E402
from tests.live import running_server  # noqa: E402

from scheduler.auth.security import hash_password, issue_access_token  # noqa: E402
from scheduler.availability.engine import (  # noqa: E402
    ChairSpec,
    Commitment,
    Phase,
    ProviderSpec,
    SlotQuery,
    TypeSpec,
    WeeklyRule,
    find_free_slots,
    local_instant,
    occupancy,
)
from scheduler.config import Settings  # noqa: E402
from scheduler.db.engine import build_engine  # noqa: E402
from scheduler.migrate import upgrade  # noqa: E402
from scheduler.models import (  # noqa: E402
    AppointmentType,
    AvailabilityRule,
    Booking,
    Chair,
    Location,
    LocationHours,
    Patient,
    Provider,
    ProviderAppointmentType,
    ProviderLocation,
    User,
)

PG_SERVER_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
BACKENDS = ("sqlite", "postgresql")
ZONE = ZoneInfo("America/Denver")
ACTIVE_STATUSES = ("pending", "booked", "arrived", "checked-in", "fulfilled")

INFUSION_PHASES: list[dict[str, Any]] = [
    {"minutes": 15, "uses_chair": True, "provider_use": "hands_on"},
    {"minutes": 40, "uses_chair": True, "provider_use": "monitor"},
    {"minutes": 45, "uses_chair": True, "provider_use": "none"},
]
CONSULT_PHASES: list[dict[str, Any]] = [
    {"minutes": 30, "uses_chair": False, "provider_use": "exclusive"},
]


# --- command line and output -----------------------------------------------------------------


def parse_args(description: str, extra: Callable[[argparse.ArgumentParser], None] | None = None):
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--backend",
        choices=("sqlite", "postgresql", "both"),
        default="both",
        help="database to measure (default: both, SQLite first)",
    )
    if extra is not None:
        extra(parser)
    args = parser.parse_args()
    args.backends = list(BACKENDS) if args.backend == "both" else [args.backend]
    return args


def banner(title: str) -> None:
    print()
    print("=" * 78)
    print(title)
    print("=" * 78, flush=True)


def section(title: str) -> None:
    print(f"\n--- {title}", flush=True)


def machine_line() -> str:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} CPUs ({cpu}), Python {platform.python_version()}"


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


def percentile(values: Sequence[float], p: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100
    lo = int(k)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def median_time(fn: Callable[[], object], runs: int) -> tuple[float, list[float]]:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), times


def verdict(ok: bool) -> str:
    return "MET" if ok else "MISSED"


# --- databases -------------------------------------------------------------------------------


@contextmanager
def fresh_database(backend: str, name: str) -> Iterator[str]:
    """A migrated, empty database of ``backend``; dropped (or deleted) afterwards."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix=f"bench_{name}_") as tmp:
            url = f"sqlite:///{tmp}/{name}.db"
            upgrade(url)
            yield url
        return
    db_name = f"bench_{name}"
    admin = create_engine(PG_SERVER_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{db_name}"'))
    url = make_url(PG_SERVER_URL).set(database=db_name).render_as_string(hide_password=False)
    try:
        upgrade(url)
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)'))
        admin.dispose()


def settings_for(url: str) -> Settings:
    return make_settings(url)


def engine_for(url: str) -> Engine:
    return build_engine(settings_for(url))


def postgres_version() -> str:
    admin = create_engine(PG_SERVER_URL)
    try:
        with admin.connect() as conn:
            return str(conn.execute(text("SHOW server_version")).scalar())
    finally:
        admin.dispose()


# --- seeding ---------------------------------------------------------------------------------

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass
class ClinicIds:
    location_id: int
    chair_ids: list[int]
    provider_ids: list[int]
    type_ids: dict[str, int]
    patient_ids: list[int]
    user_id: int
    opening_hours: tuple[tuple[int, wall, wall], ...]
    weekly: tuple[tuple[int, wall, wall], ...]
    max_concurrent: int
    stagger: int


def seed_clinic(
    session: Session,
    *,
    chairs: int,
    providers: int,
    patients: int,
    types: dict[str, dict[str, Any]],
    max_concurrent: int = 3,
    stagger: int = 10,
    open_time: wall = wall(7, 0),
    close_time: wall = wall(19, 0),
) -> ClinicIds:
    """One location in America/Denver open Mon-Fri, its chairs, providers working the opening
    hours and doing every type in ``types`` (code -> AppointmentType fields), patients, and a
    front-desk user."""
    hours = tuple((d, open_time, close_time) for d in range(5))
    location = Location(name="Bench Clinic", timezone=ZONE.key, created_at=EPOCH, updated_at=EPOCH)
    session.add(location)
    session.flush()
    assert location.id is not None
    for weekday, a, b in hours:
        session.add(
            LocationHours(location_id=location.id, weekday=weekday, open_time=a, close_time=b)
        )
    chair_rows = [
        Chair(location_id=location.id, name=f"Chair {i + 1}", position=i) for i in range(chairs)
    ]
    session.add_all(chair_rows)
    type_rows: dict[str, AppointmentType] = {}
    for code, fields in types.items():
        phases = fields["phases"]
        values: dict[str, Any] = {
            "code": code,
            "name": fields.get("name", code.title()),
            "duration_minutes": sum(p["minutes"] for p in phases),
            "needs_chair": any(p["uses_chair"] for p in phases),
            "turnover_minutes": 0,
            "slot_step_minutes": 15,
            "min_notice_minutes": 60,
            "max_days_ahead": 120,
        }
        values.update(fields)
        type_rows[code] = AppointmentType(**values)
    session.add_all(type_rows.values())
    provider_rows = [
        Provider(
            name=f"Provider {i + 1}",
            display_name=f"P. Provider{i + 1}, RN",
            credentials="RN",
            max_concurrent_patients=max_concurrent,
            min_minutes_between_starts=stagger,
        )
        for i in range(providers)
    ]
    session.add_all(provider_rows)
    session.flush()
    for provider in provider_rows:
        assert provider.id is not None
        session.add(ProviderLocation(provider_id=provider.id, location_id=location.id))
        for weekday, a, b in hours:
            session.add(
                AvailabilityRule(
                    provider_id=provider.id,
                    location_id=location.id,
                    weekday=weekday,
                    start_time=a,
                    end_time=b,
                )
            )
        for row in type_rows.values():
            assert row.id is not None
            session.add(
                ProviderAppointmentType(provider_id=provider.id, appointment_type_id=row.id)
            )
    patient_ids = insert_patients(session, patients)
    user = User(
        email="desk@bench.example",
        full_name="Front Desk",
        password_hash=hash_password("bench-password-not-used"),
        role="front_desk",
        created_at=EPOCH,
    )
    session.add(user)
    session.flush()
    assert user.id is not None
    session.commit()
    return ClinicIds(
        location_id=location.id,
        chair_ids=[c.id for c in chair_rows if c.id is not None],
        provider_ids=[p.id for p in provider_rows if p.id is not None],
        type_ids={code: row.id for code, row in type_rows.items() if row.id is not None},
        patient_ids=patient_ids,
        user_id=user.id,
        opening_hours=hours,
        weekly=hours,
        max_concurrent=max_concurrent,
        stagger=stagger,
    )


def insert_patients(session: Session, count: int) -> list[int]:
    rng = random.Random(7)
    first = ["Ava", "Ben", "Cleo", "Dan", "Eve", "Finn", "Gia", "Hal", "Ida", "Jon", "Kim", "Leo"]
    last = ["Avery", "Brooks", "Chen", "Diaz", "Ellis", "Ford", "Garcia", "Hayes", "Ito", "Jones"]
    rows = [
        {
            "first_name": rng.choice(first),
            "last_name": rng.choice(last),
            "date_of_birth": date(1950 + rng.randrange(55), 1 + rng.randrange(12), 1),
            "email": f"patient{i}@bench.example",
            "phone": f"+1 555 {i:07d}",
            "consult_completed": True,
            "consent_signed": True,
            "rems_enrolled": False,
            "created_at": EPOCH,
            "updated_at": EPOCH,
        }
        for i in range(count)
    ]
    start = session.execute(text("SELECT COALESCE(MAX(id), 0) FROM patient")).scalar_one()
    session.execute(insert(Patient), rows)
    session.flush()
    ids = session.execute(text("SELECT id FROM patient WHERE id > :s ORDER BY id"), {"s": start})
    return [int(r[0]) for r in ids]


def to_phases(raw: Sequence[dict[str, Any]]) -> tuple[Phase, ...]:
    return tuple(Phase(p["minutes"], p["uses_chair"], p["provider_use"]) for p in raw)


def engine_specs(
    clinic: ClinicIds, provider_ids: Sequence[int] | None = None
) -> tuple[tuple[ChairSpec, ...], tuple[ProviderSpec, ...]]:
    chairs = tuple(ChairSpec(id=cid, position=i) for i, cid in enumerate(clinic.chair_ids))
    rules = tuple(WeeklyRule(weekday=d, start_time=a, end_time=b) for d, a, b in clinic.weekly)
    providers = tuple(
        ProviderSpec(
            id=pid,
            max_concurrent_patients=clinic.max_concurrent,
            min_minutes_between_starts=clinic.stagger,
            rules=rules,
        )
        for pid in (provider_ids if provider_ids is not None else clinic.provider_ids)
    )
    return chairs, providers


def weekdays(first: date, count_days: int) -> list[date]:
    return [
        first + timedelta(days=i)
        for i in range(count_days)
        if (first + timedelta(days=i)).weekday() < 5
    ]


def greedy_schedule(
    *,
    clinic: ClinicIds,
    phases: tuple[Phase, ...],
    turnover_minutes: int,
    days: Sequence[date],
    per_day: int,
    rng: random.Random,
    existing: Sequence[Commitment] = (),
    provider_ids: Sequence[int] | None = None,
    step_minutes: int = 15,
) -> list[Commitment]:
    """Place up to ``per_day`` appointments per local date, each at a start the engine itself
    offers (random among the offered starts, the engine's chair, a random fitting provider),
    so every placement respects chairs, capacity, hands-on overlap and stagger."""
    chairs, providers = engine_specs(clinic, provider_ids)
    spec = TypeSpec(
        phases=phases,
        turnover_minutes=turnover_minutes,
        step_minutes=step_minutes,
        min_notice_minutes=0,
        max_days_ahead=100_000,
    )
    by_day: dict[date, list[Commitment]] = {}
    for c in existing:
        by_day.setdefault(c.start_at.astimezone(ZONE).date(), []).append(c)
    placed: list[Commitment] = []
    for day in days:
        lo = local_instant(day, wall(0), ZONE)
        hi = local_instant(day + timedelta(days=1), wall(0), ZONE)
        today = list(by_day.get(day, []))
        for _ in range(per_day):
            query = SlotQuery(
                tz=ZONE,
                opening_hours=clinic.opening_hours,
                closures=(),
                chairs=chairs,
                providers=providers,
                appointment_type=spec,
                commitments=tuple(today),
                window_start_at=lo,
                window_end_at=hi,
                now=lo - timedelta(days=1),
            )
            slots = find_free_slots(query)
            if not slots:
                break
            slot = rng.choice(slots)
            commitment = Commitment(
                start_at=slot.start_at,
                phases=phases,
                turnover_minutes=turnover_minutes,
                chair_id=slot.chair_id,
                provider_id=rng.choice(slot.provider_ids),
            )
            today.append(commitment)
            placed.append(commitment)
    return placed


def booking_row(
    commitment: Commitment,
    *,
    type_id: int,
    location_id: int,
    patient_id: int,
    status: str,
    raw_phases: list[dict[str, Any]],
    created_at: datetime,
    rng: random.Random,
) -> dict[str, Any]:
    occ = occupancy(commitment.start_at, commitment.phases, commitment.turnover_minutes)
    busy = occ.chair_busy
    row: dict[str, Any] = {
        "patient_id": patient_id,
        "appointment_type_id": type_id,
        "location_id": location_id,
        "chair_id": commitment.chair_id if busy is not None else None,
        "provider_id": commitment.provider_id,
        "start_at": commitment.start_at,
        "end_at": occ.end_at,
        "chair_start_at": busy.start_at if busy is not None else None,
        "chair_end_at": busy.end_at if busy is not None else None,
        "phases": raw_phases,
        "turnover_minutes": commitment.turnover_minutes,
        "status": status,
        "source": "front_desk",
        "version": 1,
        "ical_uid": f"{rng.getrandbits(128):032x}@infusion-scheduler",
        "sequence": 0,
        "notes": "",
        "override_reason": "",
        "cancel_reason": "",
        "cancelled_by": "",
        "late_cancel": False,
        "driver_confirmed": True,
        "fasting_acknowledged": True,
        "created_at": created_at,
        "updated_at": created_at,
    }
    if status == "cancelled":
        row.update(cancel_reason="patient unwell", cancelled_by="patient", cancelled_at=created_at)
    return row


def insert_bookings(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    for chunk in range(0, len(rows), 1000):
        session.execute(insert(Booking), list(rows[chunk : chunk + 1000]))
    session.commit()
    analyze(session)


def analyze(session: Session) -> None:
    """Give PostgreSQL's planner statistics now, as autovacuum would have long ago in a real
    database; otherwise autoanalyze lands at a random moment during the measurements."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("ANALYZE"))
        session.commit()


def staff_token(user_id: int, role: str = "front_desk", minutes: int = 120) -> str:
    token, _ = issue_access_token(
        user_id=user_id, role=role, secret=TEST_SECRET, now=datetime.now(UTC), minutes=minutes
    )
    return token


# --- servers and HTTP load -------------------------------------------------------------------


@contextmanager
def servers(
    url: str, count: int = 1, factory: str = "scheduler.main:create_app"
) -> Iterator[list[str]]:
    """``count`` uvicorn processes (tests.live.running_server) on one database.

    They run with ``SCHEDULER_ENVIRONMENT=production`` as a deployment does (running_server
    defaults to ``test``, where the app skips process-wide tuning such as the GC settings).
    Rate limiting stays off, as in running_server, so the limiter does not cap the figures.
    """
    with ExitStack() as stack:
        yield [
            stack.enter_context(
                running_server(url, app=factory, SCHEDULER_ENVIRONMENT="production")
            )
            for _ in range(count)
        ]


class Http:
    """A keep-alive HTTP/1.1 connection (stdlib: far less client CPU than httpx)."""

    def __init__(self, base_url: str, headers: dict[str, str] | None = None) -> None:
        parts = urlsplit(base_url)
        assert parts.hostname == "127.0.0.1", "benchmarks talk to loopback only"
        self.host, self.port = parts.hostname, parts.port or 80
        self.headers = dict(headers or {})
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)

    def connect(self) -> None:
        self.conn.connect()

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, bytes, http.client.HTTPMessage]:
        merged = {**self.headers, **(headers or {})}
        for attempt in range(2):
            try:
                self.conn.request(method, path, body=body, headers=merged)
                response = self.conn.getresponse()
                data = response.read()
                return response.status, data, response.headers
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.conn.close()
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.conn.close()


def _ticks(stat_path: str) -> tuple[int, int]:
    """(parent pid, utime + stime in clock ticks) of one process from /proc/<pid>/stat."""
    fields = Path(stat_path).read_text().rsplit(")", 1)[1].split()
    return int(fields[1]), int(fields[11]) + int(fields[12])


def _machine_busy_ticks() -> int:
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = values[:8]
    return user + nice + system + irq + softirq + steal


class CpuMeter:
    """CPU seconds used while the block runs: by this process (the client), by its child
    processes (the servers), and by everything else on the machine (mostly PostgreSQL)."""

    def __init__(self) -> None:
        self.client = self.servers = self.other = 0.0

    def _children(self) -> int:
        total = 0
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                ppid, ticks = _ticks(str(stat))
            except (OSError, ValueError, IndexError):
                continue
            if ppid == os.getpid():
                total += ticks
        return total

    def __enter__(self) -> CpuMeter:
        self._t = os.times()
        self._children0 = self._children()
        self._machine0 = _machine_busy_ticks()
        return self

    def __exit__(self, *exc: object) -> None:
        hz = os.sysconf("SC_CLK_TCK")
        t = os.times()
        self.client = (t.user - self._t.user) + (t.system - self._t.system)
        self.servers = (self._children() - self._children0) / hz
        machine = (_machine_busy_ticks() - self._machine0) / hz
        self.other = max(0.0, machine - self.client - self.servers)

    def per_request_ms(self, requests: int) -> str:
        n = max(1, requests)
        total = self.client + self.servers + self.other
        return (
            f"{total / n * 1000:.1f} ms CPU per request on the machine = servers "
            f"{self.servers / n * 1000:.1f} + database/other {self.other / n * 1000:.1f} "
            f"+ client {self.client / n * 1000:.1f}"
        )


@dataclass
class LoadResult:
    requests: int
    elapsed: float
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)

    @property
    def throughput(self) -> float:
        return self.requests / self.elapsed if self.elapsed else float("nan")

    def p(self, q: float) -> float:
        return percentile(self.latencies, q)

    def line(self, label: str) -> str:
        codes = ", ".join(f"{k}: {v}" for k, v in sorted(self.statuses.items()))
        return (
            f"{label:<34} {self.requests:>6} req in {self.elapsed:6.2f} s = "
            f"{self.throughput:8.1f} req/s | p50 {self.p(50) * 1000:7.2f} ms  "
            f"p99 {self.p(99) * 1000:7.2f} ms | {codes}"
        )


def run_load(
    base_urls: Sequence[str],
    *,
    threads: int,
    total: int,
    call: Callable[[Http, int], int],
    headers: dict[str, str] | None = None,
    max_seconds: float = 60.0,
) -> LoadResult:
    """``threads`` client threads, each on its own keep-alive connection (spread over the
    servers), perform calls 0..total-1 between them; stops early after ``max_seconds``."""
    counter = itertools.count()
    barrier = threading.Barrier(threads + 1)
    results: list[tuple[list[float], Counter[int]]] = [([], Counter()) for _ in range(threads)]
    stop_at = [0.0]

    def worker(k: int) -> None:
        client = Http(base_urls[k % len(base_urls)], headers)
        client.connect()
        latencies, statuses = results[k]
        barrier.wait()
        try:
            while time.perf_counter() < stop_at[0]:
                i = next(counter)
                if i >= total:
                    break
                t0 = time.perf_counter()
                status = call(client, i)
                latencies.append(time.perf_counter() - t0)
                statuses[status] += 1
        finally:
            client.close()

    pool = [threading.Thread(target=worker, args=(k,), daemon=True) for k in range(threads)]
    for t in pool:
        t.start()
    stop_at[0] = time.perf_counter() + max_seconds
    barrier.wait()
    t0 = time.perf_counter()
    for t in pool:
        t.join()
    elapsed = time.perf_counter() - t0
    merged = LoadResult(requests=0, elapsed=elapsed)
    for latencies, statuses in results:
        merged.latencies.extend(latencies)
        merged.statuses.update(statuses)
    merged.requests = len(merged.latencies)
    return merged
