"""The service's app with the month grid's cache switched off: every ``/book/times`` request
evaluates the month (``availability.service.search_free_days`` without a cache, as before
``availability/cache.py``). ``benchmarks/public_pages.py --compare`` serves this next to the
current app to measure both in one run. Not part of the service.
"""

from __future__ import annotations

from fastapi import FastAPI

from scheduler.main import create_app as create_service_app


def create_app() -> FastAPI:
    app = create_service_app()
    app.state.open_starts_cache = None  # web.patient_base.open_starts_cache: no cache
    return app
