"""The ``scheduler`` command: serve, migrate, create-admin, create-user, backup, restore,
worker, seed-demo, and dev (migrate, seed the demo clinic, serve, with a worker thread)."""

from __future__ import annotations

import argparse
import getpass
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from scheduler.config import Settings, get_settings
from scheduler.db.engine import build_engine, build_sessionmaker
from scheduler.db.transaction import unit_of_work
from scheduler.kit.clock import SystemClock


def _ensure_sqlite_dir(settings: Settings) -> None:
    if settings.is_sqlite and ":memory:" not in settings.database_url:
        from pathlib import Path

        path = settings.database_url.split("///", 1)[-1]
        Path(path).parent.mkdir(parents=True, exist_ok=True)


def cmd_migrate(settings: Settings, revision: str) -> None:
    from scheduler.migrate import upgrade

    _ensure_sqlite_dir(settings)
    upgrade(settings.database_url, revision)
    print(f"database migrated to {revision}")


def cmd_seed_demo(settings: Settings) -> None:
    from scheduler.demo import seed_demo

    if settings.environment != "development":
        sys.exit("seed-demo only runs with SCHEDULER_ENVIRONMENT=development")
    engine = build_engine(settings)
    with unit_of_work(build_sessionmaker(engine)) as session:
        logins = seed_demo(session, now=SystemClock().now())
    engine.dispose()
    if logins is None:
        print("demo clinic already present; nothing seeded")
        return
    print("demo clinic seeded. Staff logins (development only):")
    for role, email, password in logins:
        print(f"  {role:<11} {email:<24} {password}")


ADMIN_PASSWORD_ENV = "SCHEDULER_ADMIN_PASSWORD"  # noqa: S105 - the variable's name


def read_password(from_stdin: bool) -> str:
    """The new account's password: the first line of standard input (``--password-stdin``),
    else ``SCHEDULER_ADMIN_PASSWORD``, else asked twice on the terminal."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    from_env = os.environ.get(ADMIN_PASSWORD_ENV)
    if from_env:
        return from_env
    password = getpass.getpass("Password (at least 10 characters): ")
    if getpass.getpass("Password again: ") != password:
        sys.exit("error: the two passwords differ")
    return password


def cmd_create_user(
    settings: Settings,
    email: str,
    role: str,
    provider_id: int | None,
    full_name: str,
    *,
    password_stdin: bool = False,
) -> None:
    from pydantic import ValidationError

    from scheduler.auth.actors import Actor
    from scheduler.auth.schemas import UserCreate
    from scheduler.auth.service import create_user
    from scheduler.errors import SchedulerError

    password = read_password(password_stdin)
    try:
        data = UserCreate(
            email=email, password=password, role=role, provider_id=provider_id, full_name=full_name
        )
    except ValidationError as exc:
        # Only field names and rules: the rejected values may be the password.
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        sys.exit(f"error: {problems}")
    engine = build_engine(settings)
    try:
        with unit_of_work(build_sessionmaker(engine)) as session:
            user = create_user(
                session,
                data,
                actor=Actor(kind="system", label="system:cli"),
                now=SystemClock().now(),
            )
            print(f"created {user.role} {user.email} (id {user.id})")
    except SchedulerError as exc:
        sys.exit(f"error: {exc.detail}")
    finally:
        engine.dispose()


def cmd_backup(settings: Settings, target: str) -> None:
    """Back up to the file ``target``, or to standard output when it is ``-`` (so that
    ``docker compose exec -T api scheduler backup - > clinic.backup`` needs no shared folder)."""
    from scheduler.backup import BackupError, backup

    try:
        if target != "-":
            backup(settings.database_url, Path(target))
        else:
            with tempfile.TemporaryDirectory() as folder:
                path = Path(folder) / "backup"
                backup(settings.database_url, path)
                with path.open("rb") as data:
                    shutil.copyfileobj(data, sys.stdout.buffer)
                sys.stdout.buffer.flush()
    except BackupError as exc:
        sys.exit(f"error: {exc}")
    print(f"backed up to {'standard output' if target == '-' else target}", file=sys.stderr)


def cmd_restore(settings: Settings, source: str, clean: bool) -> None:
    """Restore from the file ``source``, or from standard input when it is ``-``."""
    from scheduler.backup import BackupError, restore

    _ensure_sqlite_dir(settings)
    try:
        if source != "-":
            restore(settings.database_url, Path(source), clean=clean)
        else:
            with tempfile.TemporaryDirectory() as folder:
                path = Path(folder) / "backup"
                with path.open("wb") as data:
                    shutil.copyfileobj(sys.stdin.buffer, data)
                restore(settings.database_url, path, clean=clean)
    except BackupError as exc:
        sys.exit(f"error: {exc}")
    print(
        "restored; run `scheduler migrate` if the backup came from an older version",
        file=sys.stderr,
    )


def cmd_serve(
    settings: Settings, host: str, port: int, workers: int, graceful_seconds: int = 20
) -> None:
    """Serve with uvicorn. On SIGTERM (``docker compose stop``) each process stops accepting
    connections, lets requests in flight finish for up to ``graceful_seconds``, then exits."""
    import uvicorn

    from scheduler.logging_config import configure_logging

    configure_logging(settings)
    uvicorn.run(
        "scheduler.main:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
        log_config=None,  # ours (configure_logging), in every worker process too
        access_log=False,  # scheduler.access logs each request, without paths or queries
        timeout_graceful_shutdown=graceful_seconds,
    )


def cmd_worker(settings: Settings, *, healthcheck: bool, once: bool) -> None:
    import logging

    from scheduler.worker.runner import Worker
    from scheduler.worker.runner import healthcheck as heartbeat_fresh

    if healthcheck:
        sys.exit(0 if heartbeat_fresh(settings) else 1)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    _ensure_sqlite_dir(settings)
    engine = build_engine(settings)
    try:
        worker = Worker(settings, session_factory=build_sessionmaker(engine))
        if once:
            worker.run_jobs()
            while worker.send_due():
                pass
        else:
            worker.run_forever()
    finally:
        engine.dispose()


@contextmanager
def _background_worker(settings: Settings) -> Iterator[None]:
    """``scheduler dev``: the worker in a thread of the same process, so a new user sees the
    messages a patient would get (``.eml`` files under the data directory) without a second
    command."""
    import threading

    from scheduler.worker.runner import Worker

    engine = build_engine(settings)
    worker = Worker(settings, session_factory=build_sessionmaker(engine))
    thread = threading.Thread(
        target=worker.run_forever, kwargs={"handle_signals": False}, daemon=True
    )
    thread.start()
    try:
        yield
    finally:
        worker.stopping.set()
        thread.join(timeout=10)
        engine.dispose()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="scheduler", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve the API and pages")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument(
        "--graceful-timeout",
        type=int,
        default=20,
        help="seconds requests in flight may take to finish on shutdown",
    )
    migrate = sub.add_parser("migrate", help="apply database migrations")
    migrate.add_argument("--revision", default="head")
    sub.add_parser("seed-demo", help="seed the demo clinic (development only, idempotent)")
    dev = sub.add_parser("dev", help="migrate, seed the demo clinic if missing, and serve")
    dev.add_argument("--host", default="127.0.0.1")
    dev.add_argument("--port", type=int, default=8000)
    password_help = (
        f"read the password from the first line of standard input (else ${ADMIN_PASSWORD_ENV}, "
        "else it is asked on the terminal)"
    )
    create_admin = sub.add_parser(
        "create-admin", help="first run: create an admin login (the first of the clinic's)"
    )
    create_admin.add_argument("--email", required=True)
    create_admin.add_argument("--full-name", default="")
    create_admin.add_argument("--password-stdin", action="store_true", help=password_help)
    create_user = sub.add_parser("create-user", help="create a staff login")
    create_user.add_argument("--email", required=True)
    create_user.add_argument("--role", required=True, choices=["admin", "front_desk", "provider"])
    create_user.add_argument("--provider-id", type=int, default=None)
    create_user.add_argument("--full-name", default="")
    create_user.add_argument("--password-stdin", action="store_true", help=password_help)
    worker = sub.add_parser("worker", help="send messages and run the periodic jobs")
    worker.add_argument(
        "--healthcheck", action="store_true", help="exit 0 when a worker's heartbeat is fresh"
    )
    worker.add_argument("--once", action="store_true", help="run the jobs, drain due messages")
    backup = sub.add_parser("backup", help="write a consistent backup of the database to FILE")
    backup.add_argument("file", help="where to write it; - for standard output")
    restore = sub.add_parser("restore", help="restore the database from a backup FILE")
    restore.add_argument("file", help="the backup; - for standard input")
    restore.add_argument(
        "--clean", action="store_true", help="replace a database that already holds data"
    )
    args = parser.parse_args(argv)

    settings = get_settings()
    if args.command == "serve":
        cmd_serve(settings, args.host, args.port, args.workers, args.graceful_timeout)
    elif args.command == "migrate":
        cmd_migrate(settings, args.revision)
    elif args.command == "seed-demo":
        cmd_seed_demo(settings)
    elif args.command == "dev":
        cmd_migrate(settings, "head")
        cmd_seed_demo(settings)
        with _background_worker(settings):
            cmd_serve(settings, args.host, args.port, 1)
    elif args.command == "worker":
        cmd_worker(settings, healthcheck=args.healthcheck, once=args.once)
    elif args.command == "create-user":
        cmd_create_user(
            settings,
            args.email,
            args.role,
            args.provider_id,
            args.full_name,
            password_stdin=args.password_stdin,
        )
    elif args.command == "create-admin":
        cmd_create_user(
            settings, args.email, "admin", None, args.full_name, password_stdin=args.password_stdin
        )
    elif args.command == "backup":
        cmd_backup(settings, args.file)
    elif args.command == "restore":
        cmd_restore(settings, args.file, args.clean)


if __name__ == "__main__":
    main()
