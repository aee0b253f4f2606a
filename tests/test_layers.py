"""HTTP stays at the edge: the domain can be used (by the worker, the CLI, a test) without
FastAPI or Starlette ever being imported. Checked in a fresh interpreter, since this test
process has long imported both."""

from __future__ import annotations

import ast
import importlib.util
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

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


# Query builders: a module that imports one of these builds SQL, and SQL lives in a
# repository (docs/architecture.md). Session, SQLModel, Connection and exception types are fine.
SQL_BUILDERS = {
    "select",
    "insert",
    "update",
    "delete",
    "text",
    "func",
    "col",
    "and_",
    "or_",
    "not_",
    "literal",
    "literal_column",
    "bindparam",
    "exists",
    "union",
    "union_all",
    "case",
    "cast",
    "tuple_",
    "null",
    "true",
    "false",
}
# Services still building their own queries, to be moved into their repository. Shrink only.
SQL_IN_SERVICE_ALLOWED: set[str] = set()


def _service_modules() -> list[tuple[str, str]]:
    """Every domain module of the service layer: ``service.py``, ``*_service.py``, the
    bookings and series modules that their services are split into and the worker's periodic jobs,
    with their file paths."""
    bookings_domain = {"book", "holds", "lifecycle", "placement"}
    series_domain = {"planning", "booking", "managing", "templates"}
    found = []
    for info in pkgutil.walk_packages(scheduler.__path__, prefix="scheduler."):
        parts = info.name.split(".")
        leaf = parts[-1]
        in_service_layer = (
            leaf == "service"
            or leaf.endswith("_service")
            or (parts[1] == "bookings" and leaf in bookings_domain)
            or (parts[1] == "series" and leaf in series_domain)
            or info.name == "scheduler.worker.jobs"
        )
        if in_service_layer:
            spec = importlib.util.find_spec(info.name)
            assert spec is not None
            assert spec.origin is not None
            found.append((info.name, spec.origin))
    return sorted(found)


def _sql_builders_imported(path: str) -> set[str]:
    tree = ast.parse(Path(path).read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module is not None:
            if node.module.split(".")[0] in ("sqlalchemy", "sqlmodel"):
                names |= {alias.name for alias in node.names if alias.name in SQL_BUILDERS}
        elif isinstance(node, ast.Import):
            # ``import sqlalchemy as sa`` gives every builder at once.
            names |= {
                alias.name
                for alias in node.names
                if alias.name.split(".")[0] in ("sqlalchemy", "sqlmodel")
                and alias.name not in ("sqlalchemy.exc",)
            }
    return names


def test_services_build_no_sql() -> None:
    modules = _service_modules()
    names = [name for name, _ in modules]
    for required in (
        "scheduler.bookings.book",
        "scheduler.auth.service",
        "scheduler.feeds.service",
    ):
        assert required in names
    offenders = {
        name: sorted(builders)
        for name, path in modules
        if name not in SQL_IN_SERVICE_ALLOWED and (builders := _sql_builders_imported(path))
    }
    assert offenders == {}, "move these queries into the domain's repository.py"
    # The allow-list shrinks as modules are cleaned: an entry that no longer builds SQL goes.
    stale = {name for name, path in modules if name in SQL_IN_SERVICE_ALLOWED} - {
        name for name, path in modules if _sql_builders_imported(path)
    }
    assert stale == set(), "remove these from SQL_IN_SERVICE_ALLOWED"
