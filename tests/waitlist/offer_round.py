"""One worker process for ``test_offer_workers``: ``python -m tests.waitlist.offer_round URL
ROUNDS LOCK`` runs the waitlist round ``ROUNDS`` times at the suite's frozen "now", each in
its own transaction as the worker does; LOCK ``bypassed`` skips the job's advisory lock, so
only the row locks and the booking placement's locks keep two processes apart."""

from __future__ import annotations

import sys

from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from scheduler.db import build_engine
from scheduler.worker import jobs
from tests.conftest import DEFAULT_NOW, TEST_SECRET, make_settings


def main(url: str, rounds: int, lock: str) -> None:
    if lock == "bypassed":
        jobs.take_job_lock = lambda session, name: True
    engine = build_engine(make_settings(url))
    factory = sessionmaker(engine, class_=Session, expire_on_commit=False)
    made = 0
    for _ in range(rounds):
        with factory() as session, session.begin():
            outcome = jobs.offer_waitlist_slots(
                session, now=DEFAULT_NOW, offer_minutes=120, secret_key=TEST_SECRET
            )
            made += len(outcome.offers)
    engine.dispose()
    print(made)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3])
