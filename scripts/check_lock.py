"""Fail loudly when pyproject.toml and the lock files disagree.

``make install`` runs this before installing anything: a dependency added to pyproject.toml
without re-locking (``make lock``) would otherwise be silently missing from the virtualenv, CI
and the Docker image, which all install from the lock files only. Checked:

- every runtime dependency is pinned in ``requirements.lock`` and every runtime and dev
  dependency in ``requirements-dev.lock``, at a version the pyproject specifier allows;
- a package pinned in both files has the same version in both (the image runs what CI tested).

Runs on the system Python before the virtualenv exists, so it needs only the standard library
(and ``packaging``, vendored by pip, to compare versions).
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

try:
    from packaging.requirements import Requirement
except ImportError:  # a bare system Python: pip ships its own copy
    from pip._vendor.packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
RUNTIME_LOCK = "requirements.lock"
DEV_LOCK = "requirements-dev.lock"
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def read_pins(path: Path) -> dict[str, set[str]]:
    """Package name -> pinned versions (two when a universal lock splits by Python version)."""
    pins: dict[str, set[str]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        match = _PIN.match(line)
        if match:
            pins.setdefault(normalize(match.group(1)), set()).add(match.group(2))
    return pins


def problems(root: Path = ROOT) -> list[str]:
    project = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    runtime = list(project.get("dependencies", []))
    dev = list(project.get("optional-dependencies", {}).get("dev", []))
    found: list[str] = []
    locks: dict[str, dict[str, set[str]]] = {}
    for lock, requirements in ((RUNTIME_LOCK, runtime), (DEV_LOCK, runtime + dev)):
        path = root / lock
        if not path.is_file():
            found.append(f"{lock} is missing")
            continue
        pins = locks[lock] = read_pins(path)
        for text in requirements:
            requirement = Requirement(text)
            versions = pins.get(normalize(requirement.name))
            if not versions:
                found.append(f"{lock} does not pin {requirement.name} (pyproject: {text})")
            elif not any(requirement.specifier.contains(v, prereleases=True) for v in versions):
                pinned = ", ".join(sorted(versions))
                found.append(f"{lock} pins {requirement.name}=={pinned}, pyproject wants {text}")
    if len(locks) == 2:
        for name, versions in sorted(locks[RUNTIME_LOCK].items()):
            other = locks[DEV_LOCK].get(name)
            if other is not None and other != versions:
                found.append(
                    f"{name}: {RUNTIME_LOCK} pins {sorted(versions)}, {DEV_LOCK} {sorted(other)}"
                )
    return found


def main() -> int:
    found = problems()
    if not found:
        return 0
    print("error: pyproject.toml and the lock files disagree:", file=sys.stderr)
    for problem in found:
        print(f"  - {problem}", file=sys.stderr)
    print(
        "Re-lock deliberately with `make lock` (keeps every other pin) and commit "
        f"{RUNTIME_LOCK} and {DEV_LOCK}.",
        file=sys.stderr,
    )
    return 1


if __name__ == "__main__":
    sys.exit(main())
