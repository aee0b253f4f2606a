"""Instructions executed per request, counted by callgrind: a figure the machine cannot change.

Wall-clock figures on the shared VM move by +-30 % between sittings, so they cannot say whether
one commit does more work per request than another. This script counts the instructions the
service's Python process executes (interpreter, C extensions and SQLite included; the kernel
and any database server excluded) per unit of work, for two or more source trees on the same
venv and the same data:

- ``trivial``: ``GET /healthz``, the baseline;
- ``slots``: a front-desk slot search for a provider-month (``slots.py``'s clinic and query);
- ``booking``: ``POST /api/v1/bookings`` with an ``Idempotency-Key`` (``bookings.py``'s clinic);
- ``feed304``: an ``If-None-Match`` revalidation of ``feeds.py``'s 2,000-event feed;
- ``feedcold``: the first request for that feed after the app started (``feeds.py``'s "cold"
  figure): one request, counted alone, in the same process before any other workload, so
  the modules and caches a first request fills are in it (start-up itself is not).

Each tree is seeded outside valgrind by its own ``benchmarks/`` code (``_common``, ``slots``,
``bookings``, ``feeds``) into fresh SQLite files migrated with its own ``migrations/``. Then a
second process runs under ``valgrind --tool=callgrind``: it builds that tree's app in process
(``create_app`` with ``SCHEDULER_ENVIRONMENT=production``, as the benchmark servers run) and
calls it as an ASGI application on one event loop (uvloop when installed, as uvicorn uses),
with no socket and no HTTP parser. Start-up runs uninstrumented (``--instr-atstart=no``). For
each workload: warm-up requests, then N requests and then 2N requests, each between callgrind
monitor commands (``zero``, ``dump``) that cover every thread: the sync routes and the feed
run in worker threads, which callgrind's ZERO/DUMP client requests would miss. Instructions
per request = (I(2N) - I(N)) / N, so what the regions share (the monitor commands, the loop)
cancels. Counts are deterministic to well under 1 % (``PYTHONHASHSEED=0``); the load on the
machine does not change them, only how long the run takes (~50x slower than native).

``--attribute`` runs one more callgrind process per tree with collection off, and counts the
instructions spent inside each named function (inclusive, outermost call) over N bookings:
a wrapper turns collection on in the thread that runs the function (callgrind's collection
state is per thread), so for an ``async`` function only its event-loop part is counted.
A function is ``module:qualname``; ``a:f|b:g`` names where each tree has it (the first found).
The function is replaced in its module (or class) and in every module that imported it by
name, so a reference captured earlier (a route's endpoint) still calls the original.

    .venv/bin/python benchmarks/instructions.py TREE [TREE ...] [--requests 20] \\
        [--workloads trivial,slots,booking,feed304] \\
        [--attribute module:function ...] [--annotate 25] [--keep DIR]

A TREE is a checkout's root (with ``src/``, ``migrations/``, ``benchmarks/``, ``tests/``) or its
``src/``; e.g. ``git worktree add --detach /work/old-4666ff5 4666ff5``. A tree's own
benchmark scripts seed its data, so every tree must have ``slots.py``, ``bookings.py`` and
``feeds.py`` with the same seeding as the others (unchanged since 4666ff5).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import MutableMapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

WORKLOADS = ("trivial", "slots", "booking", "feed304", "feedcold")
# Counted once, in a fresh app, before anything else ran in the process: the first request.
SINGLE = ("feedcold",)
HELPER_C = r"""
#include <valgrind/callgrind.h>
/* Callgrind's monitor commands zero and dump every thread's counters; its client requests
   CALLGRIND_ZERO_STATS and CALLGRIND_DUMP_STATS only the calling thread's, which misses the
   threads that run sync routes and the feed. */
void cg_monitor(const char *command) { VALGRIND_MONITOR_COMMAND(command); }
void cg_toggle(void) { CALLGRIND_TOGGLE_COLLECT; }
void cg_start(void) { CALLGRIND_START_INSTRUMENTATION; }
int cg_running(void) { return RUNNING_ON_VALGRIND; }
"""


# --- the parent: seed, run callgrind, read the dumps ------------------------------------------


def tree_root(path: str) -> Path:
    root = Path(path).resolve()
    if root.name == "src" and (root / "scheduler").is_dir():
        root = root.parent
    for part in ("src/scheduler", "migrations", "benchmarks/_common.py", "tests/live.py"):
        if not (root / part).exists():
            raise SystemExit(f"{root} is not a checkout of the project (no {part})")
    return root


def child_env(root: Path, workdir: Path, production: bool) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONHASHSEED": "0",  # same dict and set orders in every run
        "PYTHONDONTWRITEBYTECODE": "1",
        "SCHEDULER_MIGRATIONS_DIR": str(root / "migrations"),
        # The seed runs as the test suite does, the measured app as a deployment does; the
        # secret key is tests.conftest's, set by the child.
        "SCHEDULER_ENVIRONMENT": "production" if production else "test",
        "SCHEDULER_RATE_LIMIT_ENABLED": "false",
        "SCHEDULER_LOG_LEVEL": "WARNING",
        "INSTR_WORKDIR": str(workdir),
    }


def build_helper(workdir: Path) -> Path:
    source = workdir / "cg_helper.c"
    source.write_text(HELPER_C)
    library = workdir / "cg_helper.so"
    subprocess.run(["gcc", "-O1", "-shared", "-fPIC", "-o", str(library), str(source)], check=True)
    return library


def run_child(
    root: Path, workdir: Path, mode: str, extra: list[str], valgrind: list[str] | None
) -> None:
    command = [sys.executable, str(Path(__file__).resolve()), mode, "--tree", str(root), *extra]
    if valgrind is not None:
        command = [*valgrind, *command]
    log = workdir / f"{mode.strip('_')}.log"
    with log.open("w") as out:
        done = subprocess.run(
            command,
            env=child_env(root, workdir, production=valgrind is not None),
            cwd=workdir,
            stdout=out,
            stderr=out,
        )
    if done.returncode != 0:
        sys.stdout.write(log.read_text()[-4000:])
        raise SystemExit(f"{mode} for {root} failed (exit {done.returncode}); log: {log}")


def read_dumps(prefix: Path) -> dict[str, tuple[int, Path]]:
    """label -> (instructions, dump file) of every dump a client request triggered."""
    dumps: dict[str, tuple[int, Path]] = {}
    for path in sorted(prefix.parent.glob(prefix.name + ".*")):
        text = path.read_text(errors="replace")
        desc = re.search(r"^desc: Trigger: dump (\S+)$", text, re.M)
        total = re.search(r"^summary: (\d+)", text, re.M)
        if desc and total:
            dumps[desc.group(1).strip()] = (int(total.group(1)), path)
    return dumps


def valgrind_command(out_file: Path, collect_at_start: bool) -> list[str]:
    return [
        "valgrind",
        "--tool=callgrind",
        f"--callgrind-out-file={out_file}",
        f"--collect-atstart={'yes' if collect_at_start else 'no'}",
        "--instr-atstart=no",  # start-up runs uninstrumented (~10x faster); see cg_start
        "--dump-instr=no",
        "--compress-strings=no",
        "--compress-pos=no",
    ]


def top_functions(dump: Path, count: int) -> list[tuple[int, str]]:
    """(self instructions, function) from callgrind_annotate. Self, not inclusive: the
    interpreter's recursive frames make every C function's inclusive cost the whole request;
    ``--attribute`` answers "which Python function" instead."""
    done = subprocess.run(
        ["callgrind_annotate", "--threshold=100", str(dump)],
        capture_output=True,
        text=True,
        check=True,
    )
    rows = []
    for line in done.stdout.splitlines():
        match = re.match(r"^\s*([\d,]+)\s+(?:\([^)]*\)\s+)?(\S.*)$", line)
        if match and ":" in match.group(2) and not line.lstrip().startswith("Ir"):
            rows.append((int(match.group(1).replace(",", "")), match.group(2).strip()))
    return rows[:count] if count else rows


def measure_tree(root: Path, workdir: Path, args: argparse.Namespace) -> dict[str, Any]:
    workdir.mkdir(parents=True, exist_ok=True)
    library = build_helper(workdir)
    prefix = workdir / "callgrind.out"
    if not args.report_only:
        print(f"{root}: seeding ...", flush=True)
        run_child(root, workdir, "_seed", [], None)
        print(f"{root}: counting under callgrind ...", flush=True)
        run_child(
            root,
            workdir,
            "_measure",
            [
                "--helper",
                str(library),
                "--requests",
                str(args.requests),
                "--warmup",
                str(args.warmup),
                "--workloads",
                ",".join(args.workloads),
            ],
            valgrind_command(prefix, collect_at_start=True),
        )
    dumps = read_dumps(prefix)
    result: dict[str, Any] = {"per_request": {}, "dumps": {}}
    for name in args.workloads:
        if name in SINGLE:
            single, single_dump = dumps[f"{name}-x1"]
            result["per_request"][name] = single
            result["dumps"][name] = (single, single, single_dump)
            continue
        small, _ = dumps[f"{name}-x{args.requests}"]
        large, large_dump = dumps[f"{name}-x{2 * args.requests}"]
        result["per_request"][name] = (large - small) / args.requests
        result["dumps"][name] = (small, large, large_dump)
    if args.attribute:
        attr_prefix = workdir / "attribute.out"
        if not args.report_only:
            print(f"{root}: attributing booking instructions ...", flush=True)
            run_child(
                root,
                workdir,
                "_attribute",
                [
                    "--helper",
                    str(library),
                    "--requests",
                    str(args.requests),
                    "--warmup",
                    str(args.warmup),
                    "--functions",
                    ",".join(args.attribute),
                ],
                valgrind_command(attr_prefix, collect_at_start=False),
            )
        found = read_dumps(attr_prefix)
        result["attribute"] = {
            spec: found[spec][0] / args.requests if spec in found else None
            for spec in args.attribute
        }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("trees", nargs="+", help="checkout roots (or their src/)")
    parser.add_argument("--requests", type=int, default=20, help="N (default 20)")
    parser.add_argument("--warmup", type=int, default=5, help="warm-up requests per workload")
    parser.add_argument("--workloads", default=",".join(WORKLOADS))
    parser.add_argument("--attribute", nargs="*", default=[], metavar="MODULE:FUNCTION")
    parser.add_argument("--annotate", type=int, default=0, help="top N C functions (self)")
    parser.add_argument("--keep", default="", help="keep the dumps and logs in this folder")
    parser.add_argument(
        "--report-only", action="store_true", help="only read the dumps an earlier --keep left"
    )
    args = parser.parse_args()
    args.workloads = [w for w in args.workloads.split(",") if w]
    unknown = set(args.workloads) - set(WORKLOADS)
    if unknown:
        raise SystemExit(f"unknown workloads: {', '.join(sorted(unknown))}")
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed (apt-get install -y valgrind)")
    roots = [tree_root(t) for t in args.trees]
    labels = [tree_label(r) for r in roots]
    base = Path(args.keep or tempfile.mkdtemp(prefix="bench_instructions_")).resolve()
    try:
        # The trees run side by side: the counts do not depend on what else runs.
        with ThreadPoolExecutor(max_workers=len(roots)) as pool:
            futures = {
                label: pool.submit(measure_tree, root, base / label, args)
                for root, label in zip(roots, labels, strict=True)
            }
            results = {label: future.result() for label, future in futures.items()}
        report(labels, results, args)
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
        else:
            print(f"dumps and logs kept in {base}")


def tree_label(root: Path) -> str:
    done = subprocess.run(
        ["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    )
    commit = done.stdout.strip() or "?"
    dirty = subprocess.run(
        ["git", "-C", str(root), "status", "--porcelain", "--", "src", "migrations"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    return f"{commit}{'+' if dirty else ''}@{root.name}"


def report(labels: list[str], results: dict[str, Any], args: argparse.Namespace) -> None:
    first = labels[0]
    print(f"\ninstructions per request (SQLite, in process, N={args.requests}):")
    header = f"{'workload':<10}" + "".join(f"{label:>28}" for label in labels)
    if len(labels) > 1:
        header += "".join(
            f"{first.split('@')[0] + '/' + lb.split('@')[0]:>20}" for lb in labels[1:]
        )
    print(header)
    for name in args.workloads:
        values = [results[label]["per_request"][name] for label in labels]
        line = f"{name:<10}" + "".join(f"{v:>28,.0f}" for v in values)
        line += "".join(f"{values[0] / v:>20.3f}" for v in values[1:])
        print(line)
    if "trivial" in args.workloads:
        print("\nper request, in trivial requests:")
        for name in args.workloads:
            cells = [
                results[lb]["per_request"][name] / results[lb]["per_request"]["trivial"]
                for lb in labels
            ]
            print(f"{name:<10}" + "".join(f"{c:>28.2f}" for c in cells))
    print("\nconsistency: I(N) per request vs I(2N) per request (start-up excluded in both)")
    for name in args.workloads:
        if name in SINGLE:
            continue
        for label in labels:
            small, large, _ = results[label]["dumps"][name]
            print(
                f"  {name:<10}{label:<28} I(N)/N {small / args.requests:>14,.0f}"
                f"  I(2N)/2N {large / (2 * args.requests):>14,.0f}"
            )
    if args.attribute:
        print("\ninstructions per booking inside each function (inclusive, outermost call):")
        for spec in args.attribute:
            cells = [results[lb].get("attribute", {}).get(spec) for lb in labels]
            print(
                f"  {spec:<60}"
                + "".join(f"{c:>16,.0f}" if c is not None else f"{'absent':>16}" for c in cells)
            )
    if args.annotate:
        for name in args.workloads:
            print(f"\ntop {args.annotate} C functions by self instructions, {name}, 2N dump:")
            for label in labels:
                _, large, dump = results[label]["dumps"][name]
                count = 1 if name in SINGLE else 2 * args.requests
                print(f"  {label}: {large:,} instructions in {count} requests")
                for cost, function in top_functions(dump, args.annotate):
                    print(f"    {cost / count:>14,.0f} /req  {function}")


# --- the children: run inside the tree, with its code first on sys.path ------------------------


def enter_tree(root: Path) -> None:
    here = str(Path(__file__).resolve().parent)
    sys.path[:] = [p for p in sys.path if p not in ("", here)]
    sys.path[:0] = [str(root / "src"), str(root / "benchmarks"), str(root)]
    import scheduler

    if not Path(scheduler.__file__).resolve().is_relative_to(root / "src"):
        raise SystemExit(f"imported {scheduler.__file__}, not the tree's {root / 'src'}")


def seed(options: argparse.Namespace) -> None:
    """Seed the three databases with the tree's own benchmark code; write plan.json."""
    from datetime import UTC, datetime, timedelta
    from datetime import time as wall
    from urllib.parse import urlencode

    import _common as common
    import feeds as bench_feeds
    import slots as bench_slots
    from sqlmodel import Session

    import bookings as bench_bookings
    from scheduler.availability.engine import local_instant
    from scheduler.migrate import upgrade

    workdir = Path(os.environ["INSTR_WORKDIR"])
    now = datetime.now(UTC)
    plan: dict[str, Any] = {}
    urls = {name: f"sqlite:///{workdir / name}.db" for name in ("slots", "bookings", "feeds")}
    for url in urls.values():
        upgrade(url)

    engine = common.engine_for(urls["slots"])
    first_day = now.astimezone(common.ZONE).date() + timedelta(days=1)
    with Session(engine) as session:
        clinic, _ = bench_slots.seed(session, first_day)
    engine.dispose()
    window_start = local_instant(first_day, wall(0), common.ZONE)
    month_end = local_instant(first_day + timedelta(days=31), wall(0), common.ZONE)
    infusion_id = clinic.type_ids["infusion"]
    plan["slots"] = {
        "url": urls["slots"],
        "token": common.staff_token(clinic.user_id, minutes=24 * 60),
        "paths": [
            "/api/v1/slots?"
            + urlencode(
                {
                    "appointment_type": infusion_id,
                    "location": clinic.location_id,
                    "start": window_start.astimezone(common.ZONE).isoformat(),
                    "end": month_end.astimezone(common.ZONE).isoformat(),
                    "provider": provider,
                }
            )
            for provider in clinic.provider_ids
        ],
    }

    engine = common.engine_for(urls["bookings"])
    with Session(engine) as session:
        clinic = common.seed_clinic(
            session,
            chairs=0,
            providers=bench_bookings.PROVIDERS,
            patients=bench_bookings.WARMUP + bench_bookings.BOOKINGS,
            types={"consult": bench_bookings.CONSULT},
            stagger=0,
        )
    engine.dispose()
    today = now.astimezone(common.ZONE).date()
    first_day = today + timedelta(days=7 - today.weekday() + 7)
    count = bench_bookings.WARMUP + bench_bookings.BOOKINGS
    bodies = bench_bookings.plan_requests(clinic, first_day, count, clinic.patient_ids)
    every = bench_bookings.DUPLICATE_EVERY
    plan["bookings"] = {
        "url": urls["bookings"],
        "token": common.staff_token(clinic.user_id, minutes=24 * 60),
        # Only requests that book: the planned duplicates (409) are left out.
        "bodies": [b for i, b in enumerate(bodies) if i % every != every - 1],
    }

    engine = common.engine_for(urls["feeds"])
    with Session(engine) as session:
        _, secret, _ = bench_feeds.seed(session, now)
    engine.dispose()
    plan["feeds"] = {"url": urls["feeds"], "path": f"/feeds/{secret}.ics"}
    (workdir / "plan.json").write_text(json.dumps(plan))


class InProcessApp:
    """The tree's app called as an ASGI application: lifespan, then one request at a time."""

    def __init__(self, database_url: str) -> None:
        from scheduler.config import Settings
        from scheduler.main import create_app

        os.environ["SCHEDULER_DATABASE_URL"] = database_url
        self.app = create_app(Settings())
        self.state: dict[str, Any] = {}

    async def start(self) -> None:
        import asyncio

        inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        started: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        async def receive() -> dict[str, Any]:
            return await inbox.get()

        async def send(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "lifespan.startup.complete":
                started.set_result(None)
            elif message["type"] == "lifespan.startup.failed":
                started.set_exception(RuntimeError(message.get("message", "startup failed")))

        await inbox.put({"type": "lifespan.startup"})
        scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": self.state}
        self.inbox = inbox
        self.lifespan = asyncio.ensure_future(self.app(scope, receive, send))
        await started

    async def stop(self) -> None:
        await self.inbox.put({"type": "lifespan.shutdown"})
        await self.lifespan

    async def request(
        self, method: str, target: str, headers: dict[str, str], body: bytes = b""
    ) -> tuple[int, bytes, dict[str, str]]:
        import asyncio

        path, _, query = target.partition("?")
        raw = [(b"host", b"127.0.0.1"), (b"accept-encoding", b"identity")]
        raw += [(k.lower().encode(), v.encode()) for k, v in headers.items()]
        if body:
            raw.append((b"content-length", str(len(body)).encode()))
        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": query.encode(),
            "root_path": "",
            "headers": raw,
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 8000),
            "state": dict(self.state),
        }
        done = asyncio.Event()
        pending = [{"type": "http.request", "body": body, "more_body": False}]
        status = [0]
        answer_headers: dict[str, str] = {}
        chunks: list[bytes] = []

        async def receive() -> dict[str, Any]:
            if pending:
                return pending.pop()
            await done.wait()
            return {"type": "http.disconnect"}

        async def send(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                for k, v in message.get("headers", []):
                    answer_headers[k.decode().lower()] = v.decode()
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body"):
                    done.set()

        await self.app(scope, receive, send)
        done.set()
        return status[0], b"".join(chunks), answer_headers


def new_loop() -> Any:
    try:
        import uvloop

        return uvloop.new_event_loop()
    except ImportError:
        import asyncio

        return asyncio.new_event_loop()


def workload(name: str, plan: dict[str, Any]) -> tuple[str, Any]:
    """(database url, async call(app, i) that makes request i and checks its answer)."""

    async def check(app: InProcessApp, method: str, target: str, expect: int, **kw: Any) -> Any:
        status, body, headers = await app.request(method, target, **kw)
        if status != expect:
            raise RuntimeError(f"{name}: {method} answered {status}: {body[:300]!r}")
        return headers

    if name == "trivial":
        return plan["slots"]["url"], lambda app, i: check(app, "GET", "/healthz", 200, headers={})
    if name == "slots":
        auth = {"Authorization": f"Bearer {plan['slots']['token']}"}
        paths = plan["slots"]["paths"]  # the provider rotates over all six
        return plan["slots"]["url"], lambda app, i: check(
            app, "GET", paths[i % len(paths)], 200, headers=auth
        )
    if name == "booking":
        bodies = plan["bookings"]["bodies"]
        auth = {
            "Authorization": f"Bearer {plan['bookings']['token']}",
            "Content-Type": "application/json",
        }

        def book(app: InProcessApp, i: int) -> Any:
            headers = {**auth, "Idempotency-Key": f"{i:032x}"}
            body = json.dumps(bodies[i]).encode()
            return check(app, "POST", "/api/v1/bookings", 201, headers=headers, body=body)

        return plan["bookings"]["url"], book
    path = plan["feeds"]["path"]
    etag: list[str] = []

    async def revalidate(app: InProcessApp, i: int) -> Any:
        if not etag:  # the first call (a warm-up) renders the feed once for its ETag
            etag.append((await check(app, "GET", path, 200, headers={}))["etag"])
        return await check(app, "GET", path, 304, headers={"If-None-Match": etag[0]})

    return plan["feeds"]["url"], revalidate


def measure(options: argparse.Namespace) -> None:
    import ctypes

    helper = ctypes.CDLL(options.helper)
    if not helper.cg_running() and not os.environ.get("INSTR_DRY_RUN"):
        raise SystemExit("_measure must run under valgrind --tool=callgrind")
    plan = json.loads((Path(os.environ["INSTR_WORKDIR"]) / "plan.json").read_text())
    n = options.requests
    loop = new_loop()
    names = options.workloads.split(",")
    if "feedcold" in names:  # first, while nothing has been imported or cached for a request
        names.remove("feedcold")
        app = InProcessApp(plan["feeds"]["url"])

        async def cold(app: InProcessApp = app) -> None:
            await app.start()
            helper.cg_start()
            helper.cg_monitor(b"zero")
            status, body, _ = await app.request("GET", plan["feeds"]["path"], {})
            helper.cg_monitor(b"dump feedcold-x1")
            if status != 200 or body.count(b"BEGIN:VEVENT") < 1000:
                raise RuntimeError(f"feedcold: answered {status}: {body[:300]!r}")
            await app.stop()

        loop.run_until_complete(cold())
    for name in names:
        url, call = workload(name, plan)
        app = InProcessApp(url)

        async def run(app: InProcessApp = app, call: Any = call, name: str = name) -> None:
            await app.start()
            helper.cg_start()  # instrument from here on (a no-op once started)
            i = 0
            for _ in range(options.warmup):
                await call(app, i)
                i += 1
            for count in (n, 2 * n):
                helper.cg_monitor(b"zero")
                for _ in range(count):
                    await call(app, i)
                    i += 1
                helper.cg_monitor(f"dump {name}-x{count}".encode())
            await app.stop()

        loop.run_until_complete(run())
    loop.close()


def attribute(options: argparse.Namespace) -> None:
    """Collection is off; each function's wrapper turns it on for its outermost call."""
    import ctypes
    import importlib
    import inspect

    helper = ctypes.CDLL(options.helper)
    plan = json.loads((Path(os.environ["INSTR_WORKDIR"]) / "plan.json").read_text())
    url, call = workload("booking", plan)
    app = InProcessApp(url)
    n = options.requests
    depth = [0]

    def resolve(spec: str) -> tuple[Any, str, Any] | None:
        """The first of the spec's ``|``-separated alternatives that this tree has."""
        for alternative in spec.split("|"):
            found = resolve_one(alternative)
            if found is not None:
                return found
        return None

    def resolve_one(spec: str) -> tuple[Any, str, Any] | None:
        module_name, _, qualname = spec.partition(":")
        try:
            owner: Any = importlib.import_module(module_name)
        except ImportError:
            return None
        *path, attr = qualname.split(".")
        for part in path:
            owner = getattr(owner, part, None)
        if owner is None or not hasattr(owner, attr):
            return None
        return owner, attr, inspect.getattr_static(owner, attr)

    def wrap(function: Any) -> Any:
        if inspect.iscoroutinefunction(function):

            async def outer_async(*a: Any, **kw: Any) -> Any:
                if depth[0] == 0:
                    helper.cg_toggle()
                depth[0] += 1
                try:
                    return await function(*a, **kw)
                finally:
                    depth[0] -= 1
                    if depth[0] == 0:
                        helper.cg_toggle()

            return outer_async

        def outer(*a: Any, **kw: Any) -> Any:
            if depth[0] == 0:
                helper.cg_toggle()
            depth[0] += 1
            try:
                return function(*a, **kw)
            finally:
                depth[0] -= 1
                if depth[0] == 0:
                    helper.cg_toggle()

        return outer

    def install(spec: str) -> list[tuple[Any, str, Any]]:
        """Replace the function wherever a module or its class holds it; return the undo list."""
        found = resolve(spec)
        if found is None:
            return []
        owner, attr, original = found
        target = original.__func__ if isinstance(original, staticmethod | classmethod) else original
        wrapper = wrap(target)
        if isinstance(original, staticmethod | classmethod):
            wrapper = type(original)(wrapper)
        undo = [(owner, attr, original)]
        setattr(owner, attr, wrapper)
        if inspect.isclass(owner):
            return undo
        for module in list(sys.modules.values()):
            namespace = getattr(module, "__dict__", None)
            if not isinstance(namespace, dict) or module is owner:
                continue
            for key, value in list(namespace.items()):
                if value is original:
                    undo.append((module, key, value))
                    setattr(module, key, wrapper)
        return undo

    async def run() -> None:
        await app.start()
        helper.cg_start()
        i = options.warmup + 3 * n  # the bookings _measure made come first
        for _ in range(options.warmup):
            await call(app, i)
            i += 1
        for spec in [s for s in options.functions.split(",") if s]:
            undo = install(spec)
            if not undo:
                continue
            helper.cg_monitor(b"zero")
            for _ in range(n):
                await call(app, i)
                i += 1
            helper.cg_monitor(f"dump {spec}".encode())
            for owner, attr, value in undo:
                setattr(owner, attr, value)
        await app.stop()

    loop = new_loop()
    loop.run_until_complete(run())
    loop.close()


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1].startswith("_"):
        mode = sys.argv[1]
        child = argparse.ArgumentParser()
        child.add_argument("--tree", required=True)
        child.add_argument("--helper", default="")
        child.add_argument("--requests", type=int, default=20)
        child.add_argument("--warmup", type=int, default=5)
        child.add_argument("--workloads", default=",".join(WORKLOADS))
        child.add_argument("--functions", default="")
        options = child.parse_args(sys.argv[2:])
        enter_tree(Path(options.tree))
        from tests.conftest import TEST_SECRET  # the key the seed's staff tokens are signed with

        os.environ["SCHEDULER_SECRET_KEY"] = TEST_SECRET
        {"_seed": seed, "_measure": measure, "_attribute": attribute}[mode](options)
    else:
        main()
