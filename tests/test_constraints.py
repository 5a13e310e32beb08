"""constraints.txt pins every dependency pyproject.toml names (the test extra too), so ./run,
.ci/run and the image (Dockerfile) install the same versions."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).parents[1]


def _pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            m = re.fullmatch(r"([A-Za-z0-9._-]+)==([A-Za-z0-9.+!-]+)", line.strip())
            assert m, f"constraints.txt: {line!r} is not NAME==VERSION"
            pins[canonicalize_name(m[1])] = m[2]
    return pins


def _named() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = [r for group in project["optional-dependencies"].values() for r in group]
    return [Requirement(r) for r in project["dependencies"] + extras]


def test_every_dependency_is_pinned_within_its_range():
    pins = _pins()
    for req in _named():
        name = canonicalize_name(req.name)
        assert name in pins, f"{req.name} is not in constraints.txt: run ./run lock"
        assert req.specifier.contains(pins[name], prereleases=True), (
            f"constraints.txt pins {req.name}=={pins[name]}, outside {req.specifier}"
        )
