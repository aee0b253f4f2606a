"""Memory under churn: one server process, book-and-cancel with slot and feed reads, RSS sampled.

Seeds one location (America/Denver, Mon-Fri 07:00-19:00) with 4 providers who do a 30-minute
exclusive consultation, and a feed token for the first provider. Then ``THREADS`` client
threads, each on its own keep-alive connection, loop for ``--minutes`` (default 10): book a
provider and start (with an ``Idempotency-Key``), cancel that booking, and every few rounds
search a week of slots and fetch the provider's feed (full render, then a 304 revalidation).
Each thread books for its own patient and cancels before it books again, so no person ever
has two visits at once; starts walk through 60 weekdays and then come round again (a
cancelled booking frees its slot), so the churn can run for as long as asked.

The server's resident set size (``VmRSS`` in ``/proc``) is sampled every ``SAMPLE_SECONDS``.
The script prints one row per 30 s (RSS at its end, requests and errors in it), then the
growth after the first minute (start-up, first renders and caches filling are over by then)
and the growth of the last half of the run after that minute, which must be small: memory
that levels off. Figures depend little on the machine's load (it is memory, not time).

``--probe`` serves ``soak_probe.py``'s app instead, which reports SQLite's, malloc's and
Python's memory apart from inside the server (benchmarks/README.md says how to read it).

    .venv/bin/python benchmarks/soak.py [--backend sqlite|postgresql|both] [--minutes 10]
        [--probe] [--tracemalloc FRAMES]
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import tempfile
import threading
import time
import tracemalloc
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from datetime import time as wall
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import _common as common
from sqlmodel import Session

from scheduler.availability.engine import local_instant
from scheduler.kit.secrets import hash_token, new_token
from scheduler.models import FeedToken

THREADS = 4
PROVIDERS = 4
SAMPLE_SECONDS = 5.0
ROW_SECONDS = 30
READ_EVERY = 5  # a slot search and two feed requests every 5 book-and-cancel rounds
ANSWERED = frozenset({"booked", "cancelled", "slots", "feed", "feed 304"})
WARMUP_SECONDS = 60  # growth is reported after the first minute
# Levels off: the last half of the run after the first minute grows by at most this much.
MAX_LATE_GROWTH_MB = 8.0
PROBE_ROW_SECONDS = 60
PROBE_FIRST_SNAPSHOT = 120.0  # tracemalloc: caches are warm, the growth to the end is compared
PROBE_SLACK_SECONDS = 15  # the last snapshot a little before the churn stops
PROBE_TOP = 25
CONSULT = {
    "name": "Screening consultation",
    "phases": common.CONSULT_PHASES,
    "turnover_minutes": 0,
    "slot_step_minutes": 30,
    "min_notice_minutes": 0,
    "max_days_ahead": 365,
}


def server_pid(base_url: str) -> int:
    """The uvicorn child of this process that listens on ``base_url``'s port."""
    port = str(urlsplit(base_url).port)
    me = os.getpid()
    children = Path(f"/proc/{me}/task/{me}/children").read_text().split()
    for pid in children:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        if b"uvicorn" in cmdline:
            return int(pid)
    raise RuntimeError(f"no uvicorn child process found for port {port}")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


class Churn:
    """The client threads' shared counters and stop flag."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.counts: Counter[str] = Counter()
        self.stop = threading.Event()
        self.failure: BaseException | None = None

    def note(self, what: str) -> None:
        with self.lock:
            self.counts[what] += 1

    def snapshot(self) -> Counter[str]:
        with self.lock:
            return Counter(self.counts)


def churn_thread(
    churn: Churn,
    base: str,
    headers: dict[str, str],
    *,
    index: int,
    patient_id: int,
    pairs: list[tuple[datetime, int]],
    type_id: int,
    location_id: int,
    feed_path: str,
    slot_query: str,
) -> None:
    client = common.Http(base, headers)
    etag = ""
    round_no = 0
    try:
        while not churn.stop.is_set():
            # Threads take interleaved pairs, so two threads never ask for one start at once.
            start, provider_id = pairs[(round_no * THREADS + index) % len(pairs)]
            body = {
                "patient_id": patient_id,
                "appointment_type_id": type_id,
                "location_id": location_id,
                "start_at": start.isoformat(),
                "provider_id": provider_id,
            }
            status, answer, _ = client.request(
                "POST",
                "/api/v1/bookings",
                json.dumps(body).encode(),
                {"Idempotency-Key": uuid.uuid4().hex},
            )
            if status == 201:
                churn.note("booked")
                booking_id = json.loads(answer)["id"]
                status, answer, _ = client.request(
                    "POST",
                    f"/api/v1/bookings/{booking_id}/cancel",
                    json.dumps({"reason": "soak churn"}).encode(),
                )
                churn.note("cancelled" if status == 200 else f"cancel {status}")
            else:
                churn.note(f"book {status}")
            if round_no % READ_EVERY == 0:
                status, _, _ = client.request("GET", f"/api/v1/slots?{slot_query}")
                churn.note("slots" if status == 200 else f"slots {status}")
                status, _, got = client.request("GET", feed_path)
                churn.note("feed" if status == 200 else f"feed {status}")
                etag = got.get("ETag", etag)
                status, _, _ = client.request("GET", feed_path, headers={"If-None-Match": etag})
                # 200 when a booking of the provider changed since (the validator moved on).
                ok = {304: "feed 304", 200: "feed"}
                churn.note(ok.get(status, f"feed revalidation {status}"))
            round_no += 1
    except BaseException as exc:  # reported by the main thread
        churn.failure = exc
        churn.stop.set()
    finally:
        client.close()


def run(backend: str, minutes: float, probe: Probe | None = None) -> dict[str, Any]:
    common.banner(f"soak.py on {backend} (1 server process, {THREADS} threads, {minutes:g} min)")
    with common.fresh_database(backend, "soak") as url:
        engine = common.engine_for(url)
        with Session(engine) as session:
            clinic = common.seed_clinic(
                session,
                chairs=0,
                providers=PROVIDERS,
                patients=THREADS,
                types={"consult": CONSULT},
                stagger=0,
            )
            secret = new_token()
            session.add(
                FeedToken(
                    token_hash=hash_token(secret),
                    provider_id=clinic.provider_ids[0],
                    label="soak",
                    created_at=common.EPOCH,
                )
            )
            session.commit()
        engine.dispose()
        token = common.staff_token(clinic.user_id, minutes=int(minutes) + 30)
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        today = datetime.now(UTC).astimezone(common.ZONE).date()
        first_day = today + timedelta(days=7 - today.weekday() + 7)
        pairs = [
            (local_instant(day, wall(7 + i // 2, 30 * (i % 2)), common.ZONE), pid)
            for day in common.weekdays(first_day, 60)
            for i in range(24)
            for pid in clinic.provider_ids
        ]
        week_start = local_instant(first_day, wall(0, 0), common.ZONE)
        slot_query = urlencode(
            {
                "appointment_type": clinic.type_ids["consult"],
                "location": clinic.location_id,
                "start": week_start.isoformat(),
                "end": (week_start + timedelta(days=7)).isoformat(),
            }
        )
        churn = Churn()
        samples: list[tuple[float, float, Counter[str]]] = []
        factory = "scheduler.main:create_app"
        if probe is not None:
            factory = probe.start(minutes)
        with common.servers(url, factory=factory) as (base,):
            pid = server_pid(base)
            threads = [
                threading.Thread(
                    target=churn_thread,
                    args=(churn, base, headers),
                    kwargs={
                        "index": i,
                        "patient_id": clinic.patient_ids[i],
                        "pairs": pairs,
                        "type_id": clinic.type_ids["consult"],
                        "location_id": clinic.location_id,
                        "feed_path": f"/feeds/{secret}.ics",
                        "slot_query": slot_query,
                    },
                    daemon=True,
                )
                for i in range(THREADS)
            ]
            started = time.monotonic()
            samples.append((0.0, rss_mb(pid), Counter()))
            for thread in threads:
                thread.start()
            end = started + minutes * 60
            while not churn.stop.is_set() and time.monotonic() < end:
                churn.stop.wait(min(SAMPLE_SECONDS, max(0.0, end - time.monotonic())))
                samples.append((time.monotonic() - started, rss_mb(pid), churn.snapshot()))
            churn.stop.set()
            for thread in threads:
                thread.join(timeout=30)
            if probe is not None:
                probe.trim(pid)
        if churn.failure is not None:
            raise RuntimeError(f"a client thread failed: {churn.failure!r}") from churn.failure
    result = report(samples, minutes)
    if probe is not None:
        probe.report()
    return result


def at(samples: list[tuple[float, float, Counter[str]]], seconds: float) -> tuple[float, float]:
    """The first sample taken at or after ``seconds`` (time, RSS)."""
    for elapsed, rss, _ in samples:
        if elapsed >= seconds:
            return elapsed, rss
    return samples[-1][0], samples[-1][1]


def report(samples: list[tuple[float, float, Counter[str]]], minutes: float) -> dict[str, Any]:
    common.section(f"server RSS, one row per {ROW_SECONDS} s (sampled every {SAMPLE_SECONDS:g} s)")
    print(f"{'time':>6}{'RSS MB':>9}{'bookings':>10}{'cancels':>9}{'reads':>7}{'other':>7}")
    previous: Counter[str] = Counter()
    next_row = ROW_SECONDS
    rows = [(0.0, samples[0][1], Counter[str]())]
    for elapsed, rss, counts in samples[1:]:
        if elapsed + 0.5 >= next_row or (elapsed, rss, counts) == samples[-1]:
            rows.append((elapsed, rss, counts))
            next_row += ROW_SECONDS
    for elapsed, rss, counts in rows:
        delta = counts - previous
        previous = counts
        reads = delta["slots"] + delta["feed"] + delta["feed 304"]
        other = sum(delta.values()) - delta["booked"] - delta["cancelled"] - reads
        print(
            f"{elapsed:>5.0f}s{rss:>9.1f}{delta['booked']:>10}{delta['cancelled']:>9}"
            f"{reads:>7}{other:>7}"
        )
    totals = samples[-1][2]
    last_time, last_rss = samples[-1][0], samples[-1][1]
    first_time, first_rss = at(samples, WARMUP_SECONDS)
    middle_time, middle_rss = at(samples, (first_time + last_time) / 2)
    peak = max(rss for _, rss, _ in samples)
    growth = last_rss - first_rss
    late = last_rss - middle_rss
    print(
        f"requests: {sum(totals.values())} "
        + ", ".join(f"{what} {n}" for what, n in sorted(totals.items()))
    )
    print(
        f"RSS: start {samples[0][1]:.1f} MB, {first_time:.0f} s {first_rss:.1f} MB, "
        f"{middle_time:.0f} s {middle_rss:.1f} MB, end ({last_time:.0f} s) {last_rss:.1f} MB, "
        f"peak {peak:.1f} MB"
    )
    print(f"growth after the first minute: {growth:+.1f} MB")
    print(
        f"growth in the last half ({middle_time:.0f}-{last_time:.0f} s): {late:+.1f} MB; "
        f"levels off (<= {MAX_LATE_GROWTH_MB:g} MB): {common.verdict(late <= MAX_LATE_GROWTH_MB)}"
    )
    errors = {k: v for k, v in totals.items() if k not in ANSWERED}
    if errors:
        print(f"unexpected answers: {errors}")
    return {"growth": growth, "late": late, "peak": peak, "minutes": minutes}


class Probe:
    """``soak_probe.py`` in the server: its samples and tracemalloc snapshots, reported."""

    def __init__(self, frames: int) -> None:
        self.frames = frames
        self.folder = Path(tempfile.mkdtemp(prefix="soak_probe_"))
        self.path = self.folder / "probe.jsonl"
        self.snapshots: list[float] = []

    def start(self, minutes: float) -> str:
        """Set the server's environment up; the app factory to serve."""
        end = minutes * 60 - PROBE_SLACK_SECONDS
        self.snapshots = [min(PROBE_FIRST_SNAPSHOT, end / 2), end] if self.frames else []
        os.environ["SCHEDULER_SOAK_PROBE"] = str(self.path)
        os.environ["SCHEDULER_SOAK_TRACEMALLOC"] = str(self.frames)
        os.environ["SCHEDULER_SOAK_SNAPSHOTS"] = ",".join(f"{s:.0f}" for s in self.snapshots)
        root = str(Path(__file__).resolve().parents[1])
        os.environ["PYTHONPATH"] = os.pathsep.join(
            [root, *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
        )
        return "benchmarks.soak_probe:create_app"

    def trim(self, pid: int) -> None:
        """Ask the server to give malloc's free memory back, and wait for its figures."""
        os.kill(pid, signal.SIGUSR1)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and "rss_trimmed" not in self.path.read_text():
            time.sleep(0.5)

    def report(self) -> None:
        rows = [json.loads(line) for line in self.path.read_text().splitlines()]
        common.section(
            "inside the server (MB): SQLite's allocations, glibc malloc's heaps "
            "(in use / free), Python traced"
        )
        print(
            f"{'time':>6}{'RSS':>8}{'sqlite':>8}{'heaps':>8}{'in use':>8}{'free':>8}"
            f"{'mmap':>7}{'traced':>8}{'objects':>9}{'gc2':>5}{'threads':>8}{'pool':>5}"
            f"{'busiest':>8}"
        )
        next_row = 0.0
        for row in rows:
            if row["t"] + 0.5 < next_row and row is not rows[-1]:
                continue
            next_row = row["t"] + PROBE_ROW_SECONDS
            traced = f"{row['traced']:8.1f}" if "traced" in row else f"{'-':>8}"
            print(
                f"{row['t']:>5.0f}s{row['rss']:>8.1f}{row['sqlite']:>8.1f}"
                f"{row['malloc_arena']:>8.1f}{row['malloc_used']:>8.1f}{row['malloc_free']:>8.1f}"
                f"{row['malloc_mmap']:>7.1f}{traced}{row['gc_objects']:>9}{row['gc'][2]:>5}"
                f"{row['threads']:>8}{row.get('pool_open', 0):>5}{row.get('pool_busiest', 0):>8}"
            )
        print(f"SQLite's peak allocation: {rows[-1]['sqlite_peak']:.1f} MB")
        for row in rows:
            if "rss_trimmed" in row:
                print(
                    f"at {row['t']:.0f} s: RSS {row['rss']:.1f} MB, {row['rss_trimmed']:.1f} MB "
                    f"after malloc_trim(0) gave malloc's free memory back; "
                    f"{row['arenas']} malloc arenas"
                )
        files = [Path(f"{self.path}.{at:.0f}.snapshot") for at in self.snapshots]
        if len(files) == 2 and all(each.exists() for each in files):
            first, last = (tracemalloc.Snapshot.load(str(each)) for each in files)
            common.section(
                f"Python allocations grown from {self.snapshots[0]:.0f} s to "
                f"{self.snapshots[1]:.0f} s (tracemalloc, by line)"
            )
            for stat in last.compare_to(first, "lineno")[:PROBE_TOP]:
                print(stat)
            common.section("... by traceback (largest three)")
            for stat in last.compare_to(first, "traceback")[:3]:
                print(stat)
                for line in stat.traceback.format()[-2 * self.frames :]:
                    print("   ", line)
        shutil.rmtree(self.folder, ignore_errors=True)


def main() -> None:
    def extra(parser: Any) -> None:
        parser.add_argument("--minutes", type=float, default=10.0, help="length of the churn")
        parser.add_argument(
            "--probe",
            action="store_true",
            help="serve benchmarks/soak_probe.py's app: SQLite, malloc and Python memory apart",
        )
        parser.add_argument(
            "--tracemalloc",
            type=int,
            default=0,
            metavar="FRAMES",
            help="with --probe: trace Python allocations, compare minute 2 with the end",
        )

    args = common.parse_args(__doc__.splitlines()[0], extra)
    print(f"machine: {common.machine_line()}")
    for backend in args.backends:
        probe = Probe(args.tracemalloc) if args.probe or args.tracemalloc else None
        run(backend, args.minutes, probe)


if __name__ == "__main__":
    main()
