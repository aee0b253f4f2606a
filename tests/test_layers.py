"""HTTP stays at the edge: the domain can be used (by the worker, the CLI, a test) without
FastAPI or Starlette ever being imported. Checked in a fresh interpreter, since this test
process has long imported both."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys

import scheduler

# Modules that are the HTTP edge by design (docs/architecture.md); everything else must
# import without FastAPI or Starlette.
EDGE_NAMES = {"router", "dependencies", "deps", "main", "health", "ratelimit", "cli", "demo"}
EDGE_PACKAGES = ("scheduler.http", "scheduler.web")


def _domain_modules() -> list[str]:
    names = []
    for info in pkgutil.walk_packages(scheduler.__path__, prefix="scheduler."):
        leaf = info.name.rsplit(".", 1)[-1]
        if leaf in EDGE_NAMES or info.name.startswith(EDGE_PACKAGES):
            continue
        names.append(info.name)
    return sorted(names)


def test_services_repositories_models_engine_and_builder_import_without_fastapi() -> None:
    modules = _domain_modules()
    # The ones the rule is about must be among them (guards against an empty walk).
    for required in (
        "scheduler.bookings.service",
        "scheduler.bookings.repository",
        "scheduler.public.service",
        "scheduler.models",
        "scheduler.db",
        "scheduler.db.transaction",
        "scheduler.errors",
        "scheduler.availability.engine",
        "scheduler.ical.builder",
    ):
        assert required in modules
    script = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted(m for m in sys.modules"
        " if m.split('.')[0] in ('fastapi', 'starlette'))))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    )
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []
