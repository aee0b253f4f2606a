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
import scheduler.web

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


# Domain modules of the service layer without "service" in their name.
SERVICE_LIKE = {
    "scheduler.worker.jobs",
    "scheduler.notifications.compose",
    "scheduler.notifications.delivery",
    "scheduler.notifications.outbox",
}


def _service_modules() -> list[tuple[str, str]]:
    """Every domain module of the service layer: ``service.py``, ``*_service.py``, the
    modules that the bookings, patients, public and series services are split into, and the
    worker's and outbox's modules, with their file paths."""
    split_services = {
        "bookings": {"book", "holds", "lifecycle", "placement"},
        "patients": {"duplicates"},
        "public": {"booking", "common", "manage"},
        "series": {"booking", "boosters", "managing", "planning", "templates"},
    }
    found = []
    for info in pkgutil.walk_packages(scheduler.__path__, prefix="scheduler."):
        parts = info.name.split(".")
        leaf = parts[-1]
        in_service_layer = (
            leaf == "service"
            or leaf.endswith("_service")
            or leaf in split_services.get(parts[1], set())
            or info.name in SERVICE_LIKE
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
        "scheduler.patients.duplicates",
        "scheduler.public.manage",
        "scheduler.series.planning",
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


# ---- module size -----------------------------------------------------------------------

MAX_LINES = 500
# Modules allowed over the limit (none: every module was split by responsibility). Shrink only:
# an entry that is back under the limit goes.
OVER_500_ALLOWED: set[str] = set()


def _source_lines() -> dict[str, int]:
    """Lines of every module under ``src/``, by path from ``src/``."""
    package = Path(scheduler.__file__).parent
    return {
        path.relative_to(package.parent).as_posix(): len(
            path.read_text(encoding="utf-8").splitlines()
        )
        for path in sorted(package.rglob("*.py"))
    }


def test_no_module_over_500_lines() -> None:
    lines = _source_lines()
    assert "scheduler/bookings/service.py" in lines  # guards against an empty walk
    over = {path: count for path, count in lines.items() if count > MAX_LINES}
    unexpected = {path: count for path, count in over.items() if path not in OVER_500_ALLOWED}
    assert unexpected == {}, "split these by responsibility (docs/architecture.md)"
    stale = OVER_500_ALLOWED - set(over)
    assert stale == set(), "remove these from OVER_500_ALLOWED"


# ---- web pages ---------------------------------------------------------------------------

# Running a statement: a page module that calls one of these on a session queries the
# database itself instead of calling a service (or, for the pages' joined reads,
# ``scheduler.web.repository``).
STATEMENT_CALLS = {"exec", "execute", "scalar", "scalars"}


def _web_modules() -> list[tuple[str, str]]:
    found = []
    for info in pkgutil.walk_packages(scheduler.web.__path__, prefix="scheduler.web."):
        if info.name == "scheduler.web.repository":
            continue
        spec = importlib.util.find_spec(info.name)
        assert spec is not None
        assert spec.origin is not None
        found.append((info.name, spec.origin))
    return sorted(found)


def _statement_calls(tree: ast.AST) -> set[str]:
    return {
        node.func.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in STATEMENT_CALLS
    }


def _repositories_imported(tree: ast.AST) -> set[str]:
    """The domain repository modules a module imports (``scheduler.web.repository`` aside)."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module is not None:
            if node.module.split(".")[-1] == "repository":
                names.add(node.module)
            names |= {
                f"{node.module}.{alias.name}" for alias in node.names if alias.name == "repository"
            }
        elif isinstance(node, ast.Import):
            names |= {
                alias.name for alias in node.names if alias.name.split(".")[-1] == "repository"
            }
    return names - {"scheduler.web.repository"}


def test_web_pages_build_no_sql_and_use_no_domain_repository() -> None:
    modules = _web_modules()
    names = [name for name, _ in modules]
    for required in ("scheduler.web.booking", "scheduler.web.today", "scheduler.web.settings"):
        assert required in names
    offenders = {}
    for name, path in modules:
        tree = ast.parse(Path(path).read_text(encoding="utf-8"))
        found = _sql_builders_imported(path) | _statement_calls(tree) | _repositories_imported(tree)
        if found:
            offenders[name] = sorted(found)
    assert offenders == {}, (
        "a page parses, calls one service and renders: move the query into the domain's "
        "repository (behind its service) or, for a page's joined read, scheduler/web/repository.py"
    )


def test_the_web_rules_see_what_they_forbid(tmp_path: Path) -> None:
    """The checks above find a query, a statement run and a domain repository import."""
    source = tmp_path / "page.py"
    source.write_text(
        "from sqlmodel import select\n"
        "from scheduler.bookings import repository\n"
        "import scheduler.audit.repository\n"
        "def page(db):\n"
        "    return db.exec(select(1)).all()\n",
        encoding="utf-8",
    )
    tree = ast.parse(source.read_text(encoding="utf-8"))
    assert _sql_builders_imported(str(source)) == {"select"}
    assert _statement_calls(tree) == {"exec"}
    assert _repositories_imported(tree) == {
        "scheduler.bookings.repository",
        "scheduler.audit.repository",
    }


# ---- one domain's repository, used by its own package ----------------------------------------

# Modules that still read another domain's repository directly (module -> repositories), to
# go behind that domain's service or a shared home like ``db/locks.py``. Shrink only: drop an
# entry when its module stops reaching across (the test fails only on a new import across).
CROSS_REPOSITORY_ALLOWED = {
    "scheduler.bookings.placement": {"scheduler.availability.repository"},
    "scheduler.http.metrics": {"scheduler.notifications.repository"},
    "scheduler.notifications.sign_in": {
        "scheduler.patient_access.repository",
        "scheduler.public.repository",
    },
    "scheduler.patient_access.service": {"scheduler.public.repository"},
    "scheduler.public.common": {"scheduler.bookings.repository"},
    "scheduler.series.booking": {"scheduler.bookings.repository"},
    "scheduler.series.planning": {"scheduler.bookings.repository"},
    "scheduler.worker.jobs": {"scheduler.bookings.repository"},
}


def test_a_domain_repository_is_imported_by_its_own_package_only() -> None:
    """The pages have their own rule above. Locks every writer takes live in ``db/locks.py``
    (a patient merge and a series lock like a booking without reaching into bookings)."""
    found: dict[str, set[str]] = {}
    for info in pkgutil.walk_packages(scheduler.__path__, prefix="scheduler."):
        if info.name.startswith("scheduler.web"):
            continue
        spec = importlib.util.find_spec(info.name)
        assert spec is not None
        if spec.origin is None or not spec.origin.endswith(".py"):
            continue
        tree = ast.parse(Path(spec.origin).read_text(encoding="utf-8"))
        package = info.name.split(".")[1]
        others = {r for r in _repositories_imported(tree) if r.split(".")[1] != package}
        if others:
            found[info.name] = others
    assert "scheduler.patients.duplicates" not in found
    new = {
        name: sorted(others - CROSS_REPOSITORY_ALLOWED.get(name, set()))
        for name, others in found.items()
        if not others <= CROSS_REPOSITORY_ALLOWED.get(name, set())
    }
    assert new == {}, "use the other domain's service (or db/locks.py for the writers' locks)"
