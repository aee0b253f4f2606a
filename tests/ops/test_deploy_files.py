"""The deployment files, checked the way `docker compose config` and a reviewer would.

There is no Docker engine in CI, so these tests parse docker-compose.yml, the Dockerfile,
.dockerignore and .env.example and check what a clinic relies on: every service present and
health-checked, nothing published beyond 127.0.0.1, settings only from .env and every one of
them documented, a non-root image built from the lock without dev tools.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from scheduler.cli import ADMIN_PASSWORD_ENV
from scheduler.config import Settings
from scheduler.kit.ratelimit import RateLimiter
from tests.conftest import postgres_base_url

ROOT = Path(__file__).resolve().parents[2]
PREFIX = "SCHEDULER_"
# Read by a library rather than by Settings (documented in the README).
LIBRARY_VARIABLES = {"PROMETHEUS_MULTIPROC_DIR"}
_VARIABLE = re.compile(r"\$\{([A-Z0-9_]+)(?::?[-?]([^}]*))?\}")


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return loaded


def interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's ${VAR}, ${VAR:-default} and ${VAR:?error}, with ``env`` as the .env file."""

    def one(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in env:
            return env[name]
        if "?" in match.group(0).split(name, 1)[1][:2]:
            raise AssertionError(f"{name} is required: {default}")
        return default or ""

    return _VARIABLE.sub(one, value)


def example_env() -> dict[str, tuple[str, bool]]:
    """Key -> (value, set) for every ``KEY=value`` line of .env.example, commented or not."""
    found: dict[str, tuple[str, bool]] = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        match = re.fullmatch(r"(#\s*)?([A-Z][A-Z0-9_]*)=(.*)", line.strip())
        if match:
            found[match.group(2)] = (match.group(3), match.group(1) is None)
    return found


def setting_names() -> set[str]:
    return {PREFIX + name.upper() for name in Settings.model_fields}


def test_compose_runs_every_service_with_a_health_check() -> None:
    services = compose()["services"]
    assert set(services) >= {"db", "redis", "migrate", "api", "worker"}
    for name in ("db", "redis", "api", "worker"):
        check = services[name]["healthcheck"]
        assert check["test"], name
        assert not check.get("disable"), name
        assert services[name]["restart"] == "unless-stopped", name
    assert "pgdata:/var/lib/postgresql/data" in services["db"]["volumes"]
    assert "pgdata" in compose()["volumes"]
    assert services["migrate"]["restart"] == "no"
    assert services["migrate"]["command"] == ["scheduler", "migrate"]
    assert services["migrate"]["depends_on"]["db"]["condition"] == "service_healthy"
    for name in ("api", "worker"):
        after = services[name]["depends_on"]["migrate"]["condition"]
        assert after == "service_completed_successfully", name
    assert "/readyz" in " ".join(services["api"]["healthcheck"]["test"])
    assert services["worker"]["command"] == ["scheduler", "worker"]
    assert services["worker"]["healthcheck"]["test"] == [
        "CMD",
        "scheduler",
        "worker",
        "--healthcheck",
    ]


def test_api_runs_several_processes_sharing_rate_limits_in_redis() -> None:
    services = compose()["services"]
    command = [interpolate(part, {}) for part in services["api"]["command"]]
    workers = next(int(p.split("=", 1)[1]) for p in command if p.startswith("--workers="))
    assert workers > 1
    for name in ("api", "worker", "migrate"):
        env = services[name]["environment"]
        assert env["SCHEDULER_RATE_LIMIT_STORAGE_URI"] == "redis://redis:6379", name
        assert env["SCHEDULER_ENVIRONMENT"] == "production", name
    assert services["api"]["depends_on"]["redis"]["condition"] == "service_healthy"
    # The redis package is installed, so the shared store can be built (it connects lazily).
    RateLimiter("redis://redis:6379")


def test_nothing_is_published_beyond_localhost() -> None:
    published = 0
    for name, service in compose()["services"].items():
        for port in service.get("ports", []):
            published += 1
            assert interpolate(str(port), {}).startswith("127.0.0.1:"), (name, port)
    assert published >= 1


def test_settings_come_from_env_file_and_every_setting_is_documented() -> None:
    services = compose()["services"]
    for name in ("api", "worker", "migrate"):
        assert ".env" in services[name]["env_file"], name
        for key in services[name]["environment"]:
            known = key in setting_names() or key in LIBRARY_VARIABLES
            assert known, f"{name} sets unknown setting {key}"
    example = example_env()
    missing = sorted(setting_names() - set(example))
    assert not missing, f".env.example does not document {missing}"
    compose_text = (ROOT / "docker-compose.yml").read_text()
    for key in example:
        used = key in setting_names() or "${" + key in compose_text or key == ADMIN_PASSWORD_ENV
        assert used, f".env.example lists {key}, which nothing reads"


def test_the_example_env_with_a_hard_password_gives_a_working_production_config() -> None:
    password = "p@ss:w/rd %#?&=é"  # every character that breaks a hand-written URL
    env = {key: value for key, (value, is_set) in example_env().items() if is_set}
    env |= {"SCHEDULER_SECRET_KEY": "k" * 48, "SCHEDULER_DATABASE_PASSWORD": password}
    services = compose()["services"]
    db_password = interpolate(services["db"]["environment"]["POSTGRES_PASSWORD"], env)
    assert db_password == password
    settings_env = {**env, **services["api"]["environment"]}
    settings = Settings(
        **{
            k.removeprefix(PREFIX).lower(): v
            for k, v in settings_env.items()
            if k.startswith(PREFIX)
        }
    )
    assert settings.environment == "production"
    from sqlalchemy.engine import make_url

    url = make_url(settings.database_url)
    assert (url.host, url.port, url.database, url.username) == (
        "db",
        5432,
        "scheduler",
        "scheduler",
    )
    assert url.password == password
    # The required values are required: compose refuses to start without them.
    with pytest.raises(AssertionError, match="SCHEDULER_DATABASE_PASSWORD"):
        interpolate(services["db"]["environment"]["POSTGRES_PASSWORD"], {})


def test_a_url_built_from_parts_connects() -> None:
    """psycopg accepts the escaped URL (the local server trusts, so any password logs in)."""
    if postgres_base_url() is None:
        pytest.skip("PostgreSQL not configured: set SCHEDULER_TEST_DATABASE_URL")
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    base = make_url(postgres_base_url() or "")
    settings = Settings(
        database_host=base.host,
        database_port=base.port or 5432,
        database_name="postgres",
        database_user=base.username or "postgres",
        database_password="p@ss:w/rd %#?&=é",
    )
    engine = create_engine(settings.database_url)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT 1")).scalar() == 1
    engine.dispose()


def dockerfile_instructions() -> list[str]:
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


def test_image_is_multi_stage_non_root_health_checked_and_locked() -> None:
    lines = dockerfile_instructions()
    froms = [i for i, line in enumerate(lines) if line.startswith("FROM ")]
    assert len(froms) >= 2
    final = lines[froms[-1] :]
    users = [line.split()[1] for line in final if line.startswith("USER ")]
    assert users
    assert users[-1].split(":")[0] not in ("root", "0")
    assert any(line.startswith("HEALTHCHECK ") for line in final)
    assert any(line.startswith("COPY --from=build /opt/venv") for line in final)
    assert not any(line.startswith("COPY src") or "tests" in line for line in final)
    text = " ".join(lines)
    assert "--require-hashes" in text
    assert "-r requirements.lock" in text
    for dev_only in ("requirements-dev.lock", "[dev]", "pytest", "ruff", "mypy", "hypothesis"):
        assert dev_only not in text, dev_only
    ignored = (ROOT / ".dockerignore").read_text().split()
    for path in (".env", ".venv", "var", "tests", ".git"):
        assert path in ignored, path


def copy_project(target: Path) -> None:
    for name in ("pyproject.toml", "requirements.lock", "requirements-dev.lock"):
        shutil.copy(ROOT / name, target / name)


def test_lock_files_match_pyproject() -> None:
    checked = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "check_lock.py")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stderr


def test_a_dependency_added_without_relocking_fails_loudly(tmp_path: Path) -> None:
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import check_lock  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    copy_project(tmp_path)
    pyproject = tmp_path / "pyproject.toml"
    text = pyproject.read_text()
    text = text.replace(
        '    "cachetools>=5.3",\n', '    "cachetools>=5.3",\n    "aiosmtpd>=1.4",\n'
    )
    text = text.replace('"fastapi>=0.115"', '"fastapi>=999"')
    pyproject.write_text(text)
    found = check_lock.problems(tmp_path)
    assert any("does not pin aiosmtpd" in p for p in found), found
    assert any("fastapi" in p and ">=999" in p for p in found), found
    makefile = (ROOT / "Makefile").read_text()
    recipe = makefile.split("$(STAMP): ", 1)[1].splitlines()
    install = [line for line in recipe[: recipe.index("")] if "install" in line]
    assert "check_lock.py" in recipe[2], "make install must check the lock before installing"
    assert all("requirements-dev.lock" in line or "-e ." in line for line in install)
    assert "--require-hashes" in makefile


def test_api_processes_share_metrics_through_an_empty_directory() -> None:
    api = compose()["services"]["api"]
    directory = api["environment"]["PROMETHEUS_MULTIPROC_DIR"]
    assert directory in api["tmpfs"]  # empty at every start, as prometheus_client requires
    assert api["environment"]["SCHEDULER_ENVIRONMENT"] == "production"  # the shared ones kept
    assert "PROMETHEUS_MULTIPROC_DIR" not in compose()["services"]["worker"]["environment"]
