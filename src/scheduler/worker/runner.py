"""``scheduler worker``: send due messages, run the periodic jobs, report a heartbeat.

One loop: a batch of due messages (see ``notifications/delivery.py``), the periodic jobs
when their interval has passed (``worker/jobs.py``), a heartbeat file; then a short sleep
when there was nothing to do. SIGTERM or SIGINT stops it cleanly: the message being sent is
finished and recorded, the rest of the batch is given back at once (not left to the lease).

Several workers may run against one PostgreSQL; SQLite supports one.
``scheduler worker --healthcheck`` exits 0 while the heartbeat file under the data directory
is fresh (what the compose file's health check runs).
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any

from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from scheduler.config import Settings
from scheduler.db.transaction import Statements, run_in_transaction, statements
from scheduler.kit.clock import Clock, SystemClock
from scheduler.notifications import delivery
from scheduler.notifications.compose import Claimed
from scheduler.notifications.outbox import install_policy
from scheduler.notifications.policy import NotificationPolicy
from scheduler.notifications.transports import (
    DeliveryError,
    DeliveryUnconfirmed,
    Transport,
    build_transport,
)
from scheduler.worker import jobs

log = logging.getLogger("scheduler.worker")
HEARTBEAT_FILE = "worker-heartbeat"
JOB_INTERVAL = timedelta(seconds=60)


def heartbeat_path(settings: Settings) -> Path:
    return settings.data_dir / HEARTBEAT_FILE


def healthcheck(settings: Settings, *, now: float | None = None) -> bool:
    """Whether a worker beat recently enough (``worker_heartbeat_max_age_seconds``)."""
    try:
        beat = heartbeat_path(settings).stat().st_mtime
    except OSError:
        return False
    age = (time.time() if now is None else now) - beat
    return age <= settings.worker_heartbeat_max_age_seconds


class Worker:
    def __init__(
        self,
        settings: Settings,
        *,
        session_factory: sessionmaker[Session],
        clock: Clock | None = None,
        transport: Transport | None = None,
        worker_id: str | None = None,
    ) -> None:
        self.settings = settings
        self.factory = session_factory
        install_policy(session_factory, NotificationPolicy.from_settings(settings))
        self.clock = clock or SystemClock()
        self.transport = transport or build_transport(settings)
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}"
        self.stopping = threading.Event()
        self._jobs_due_at: datetime | None = None

    # --- one transaction at a time ---------------------------------------------------------

    def _transaction(self, work: Callable[[Session], Any]) -> Any:
        """``work`` as one transaction, ended by ``db/transaction.py`` like a request's:
        committed, rerun whole on a transient PostgreSQL abort, rolled back otherwise."""
        return run_in_transaction(self.factory, work)

    def send_due(self) -> int:
        """Claim one batch, send it, record each result. How many were claimed."""
        now = self.clock.now()
        lease = timedelta(seconds=self.settings.worker_lease_seconds)
        held_until = now + lease  # the claims' lease_until, on the clock other workers use
        claimed: list[Claimed] = self._transaction(
            lambda s: delivery.claim(
                s,
                worker_id=self.worker_id,
                now=now,
                limit=self.settings.worker_batch_size,
                lease=lease,
                settings=self.settings,
            )
        )
        budget = delivery.send_budget(self.settings)
        held: set[int] | None = None  # None: all of the batch
        # Each result one statement, committed by itself (one round trip on PostgreSQL).
        with statements(self.factory) as results:
            for index, item in enumerate(claimed):
                if self.stopping.is_set():
                    self._release([c.id for c in claimed[index:]])
                    break
                if self.clock.now() + budget > held_until:
                    # Slow sending: the rest of the batch is renewed before its lease could
                    # run out mid-send and another worker take (and send) the same message.
                    held_until, held = self._renew([c.id for c in claimed[index:]], lease)
                if held is not None and item.id not in held:
                    continue  # withdrawn meanwhile, or no longer this worker's
                self._deliver(item, results)
        return len(claimed)

    def _renew(self, ids: list[int], lease: timedelta) -> tuple[datetime, set[int]]:
        """The claims' new end and which of ``ids`` are still held."""
        now = self.clock.now()
        held: set[int] = self._transaction(
            lambda s: delivery.renew(s, ids, worker_id=self.worker_id, now=now, lease=lease)
        )
        return now + lease, held

    def _release(self, ids: list[int]) -> None:
        now = self.clock.now()
        self._transaction(lambda s: delivery.release(s, ids, worker_id=self.worker_id, now=now))

    def _deliver(self, item: Claimed, results: Statements) -> None:
        if item.message is None:
            assert item.outcome is not None
            status, reason = item.outcome
            results.run(
                lambda s: delivery.mark_not_sent(
                    s, item.id, status, reason, worker_id=self.worker_id, now=self.clock.now()
                )
            )
            return
        try:
            self.transport.send(item.message)
        except DeliveryUnconfirmed as exc:
            # It may have arrived: staff decide (the Messages page), rather than a resend
            # giving the patient a second copy.
            error = str(exc)
            results.run(
                lambda s: delivery.mark_not_sent(
                    s, item.id, "failed", error, worker_id=self.worker_id, now=self.clock.now()
                )
            )
            log.warning("message %s not confirmed (failed): %s", item.id, error)
            return
        except DeliveryError as exc:
            error = str(exc)
            status = results.run(
                lambda s: delivery.mark_failed_attempt(
                    s,
                    item.id,
                    item.attempts,
                    error,
                    worker_id=self.worker_id,
                    now=self.clock.now(),
                    max_attempts=self.settings.notification_max_attempts,
                    retry_base_seconds=self.settings.notification_retry_base_seconds,
                )
            )
            log.warning("message %s not delivered (%s): %s", item.id, status, error)
            return
        # Recorded at once, alone: a worker killed after this sent the message once only.
        results.run(
            lambda s: delivery.mark_sent(s, item.id, worker_id=self.worker_id, now=self.clock.now())
        )

    def run_jobs(self) -> None:
        """Each periodic job in its own transaction."""
        now = self.clock.now()
        released = self._transaction(lambda s: jobs.release_expired_holds(s, now=now))
        marked = self._transaction(
            lambda s: jobs.mark_noshows(
                s, now=now, grace_minutes=self.settings.noshow_grace_minutes
            )
        )
        purged = self._transaction(lambda s: jobs.purge_idempotency_records(s, now=now))
        waitlist = self._transaction(
            lambda s: jobs.offer_waitlist_slots(
                s,
                now=now,
                offer_minutes=self.settings.waitlist_offer_minutes,
                secret_key=self.settings.secret_key,
            )
        )
        if waitlist:
            log.info(
                "waitlist: %d offers made, %d expired, %d entries expired",
                len(waitlist.offers),
                waitlist.expired_offers,
                waitlist.expired_entries,
            )
        if released or marked or purged:
            log.info(
                "jobs: %d holds released, %d no-shows, %d idempotency records purged",
                released,
                len(marked),
                purged,
            )

    def beat(self) -> None:
        path = heartbeat_path(self.settings)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(datetime.now(UTC).isoformat())

    # --- the loop ----------------------------------------------------------------------------

    def run_forever(self, *, handle_signals: bool = True) -> None:
        """Loop until ``stopping`` is set (by SIGTERM/SIGINT when ``handle_signals``, which
        only the main thread may do)."""
        if handle_signals:
            self._install_signals()
        log.info("worker %s started", self.worker_id)
        try:
            while not self.stopping.is_set():
                self._safely(self.beat)  # an unwritable data dir shows in --healthcheck
                now = self.clock.now()
                if self._jobs_due_at is None or now >= self._jobs_due_at:
                    self._safely(self.run_jobs)
                    self._jobs_due_at = now + JOB_INTERVAL
                busy = self._safely(self.send_due)
                if not busy:
                    self.stopping.wait(self.settings.worker_poll_seconds)
        finally:
            self.transport.close()
            log.info("worker %s stopped", self.worker_id)

    def _safely(self, work: Callable[[], Any]) -> Any:
        """A failing round (database restarting, say) is logged and retried next round."""
        try:
            return work()
        except Exception:
            log.exception("worker round failed; retrying")
            self.stopping.wait(self.settings.worker_poll_seconds)
            return 0

    def _install_signals(self) -> None:
        def stop(signum: int, _frame: FrameType | None) -> None:
            log.info("worker %s: signal %d, stopping", self.worker_id, signum)
            self.stopping.set()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
