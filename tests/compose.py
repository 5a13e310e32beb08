"""docker-compose.yml as compose itself reads it: ``docker-compose config`` (Debian's package
``docker-compose``; .ci/run installs it), with the variables of .env.example filled in.

Where the binary is missing the tests that need it are skipped with the reason, except under
CI=true, where that is a failure (as PostgreSQL is in tests/conftest.py).
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).parents[1]
COMPOSE_FILE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"

# Values of a particular shape; every other empty variable of .env.example gets a random token.
SHAPED = {"FLOWER_BASIC_AUTH": lambda: f"ops:{secrets.token_urlsafe(16)}"}


def compose_binary() -> str:
    found = shutil.which("docker-compose")
    if found is None:
        message = "docker-compose not found (apt-get install docker-compose)"
        if os.environ.get("CI"):
            pytest.fail(f"{message} (CI requires it)")
        pytest.skip(message)
    return found


def filled_env_example(path: Path) -> dict[str, str]:
    """.env.example with each empty value filled in, written to ``path``; returns the values.
    An operator fills in the same blanks (docs/operations.md)."""
    values = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        m = re.fullmatch(r"([A-Z][A-Z0-9_]*)=(.*)", line.strip())
        if m:
            name, value = m[1], m[2]
            values[name] = value or SHAPED.get(name, lambda: secrets.token_urlsafe(32))()
    path.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
    return values


def run_config(env_file: Path) -> subprocess.CompletedProcess:
    """``docker-compose config`` on the project's file with ``env_file``; the caller's own
    environment must not fill a blank, so only PATH and HOME are passed on."""
    env = {k: os.environ[k] for k in ("PATH", "HOME") if k in os.environ}
    return subprocess.run(
        [compose_binary(), "--file", str(COMPOSE_FILE), "--env-file", str(env_file), "config"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=60,
    )


def resolved(env_file: Path) -> dict:
    """The file as compose resolves it (variables, anchors and merges), as a dict."""
    done = run_config(env_file)
    assert done.returncode == 0, done.stderr
    return yaml.safe_load(done.stdout)
