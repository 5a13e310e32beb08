"""The image (Dockerfile): built in one stage, run from another that only copies the
virtualenv, as an unprivileged user, with a health check, from the pinned versions."""

from __future__ import annotations

import re
from pathlib import Path

from newsflow.roles_cli import health

TEXT = (Path(__file__).parents[1] / "Dockerfile").read_text()
STAGES = re.split(r"(?m)^FROM ", TEXT)[1:]


def _instructions(stage: str) -> list[tuple[str, str]]:
    joined = re.sub(r"\\\n\s*", " ", stage)
    return re.findall(r"(?m)^([A-Z]+)\s+(.*)$", "FROM " + joined)


def test_two_stages_the_last_one_only_copies_the_build():
    assert len(STAGES) == 2
    final = _instructions(STAGES[-1])
    assert not [arg for op, arg in final if op == "RUN" and re.search(r"pip|apt", arg)]
    assert ("COPY", "--from=build /opt/venv /opt/venv") in final


def test_runs_as_an_unprivileged_user():
    users = [arg for op, arg in _instructions(STAGES[-1]) if op == "USER"]
    assert users and users[-1] not in ("root", "0")


def test_every_pip_install_takes_the_pinned_versions():
    installs = [arg for op, arg in _instructions(STAGES[0]) if op == "RUN" and "pip install" in arg]
    assert installs
    for command in installs:
        for part in command.split("&&"):
            if "pip install" in part:
                assert "--constraint constraints.txt" in part, part


def test_healthcheck_is_a_newsflow_health_check():
    check = [arg for op, arg in _instructions(STAGES[-1]) if op == "HEALTHCHECK"]
    argv = re.findall(r'"([^"]+)"', check[0].split("CMD", 1)[1])
    assert argv[:2] == ["newsflow", "health"]
    # The role it names exists (a typo would leave every container "unhealthy").
    assert argv[2] in health.params[0].type.choices
