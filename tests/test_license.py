"""The project's licence is stated once and the same everywhere it is declared."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_license_file_package_metadata_and_test_tooling_agree() -> None:
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["license"]
    assert declared == "Apache-2.0"
    text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in text
    assert "Version 2.0, January 2004" in text
    assert "END OF TERMS AND CONDITIONS" in text  # the full text, not a pointer to it
    js = ROOT / "tests" / "ical" / "js"
    assert json.loads((js / "package.json").read_text())["license"] == declared
    lock = json.loads((js / "package-lock.json").read_text())
    assert lock["packages"][""]["license"] == declared
