"""schemathesis against a live service's OpenAPI document, as the contract tests run it: no
5xx, and every answer (status, content type, body) as the document says. Once per suite, on
SQLite: the HTTP contract does not depend on the store, and a run takes a minute."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest


def keeps_its_contract(stack, base_url: str, cwd: Path, max_examples: int, *selection: str):
    """Run schemathesis on ``base_url``'s document with the suite's key; ``selection``: its
    path options (e.g. ``--include-path-regex ^/v1/partner``). Fails with the run's output."""
    if not stack.settings.database_url.startswith("sqlite"):
        pytest.skip("the contract run is store-independent; it runs once, on SQLite")
    cmd = [
        str(Path(sys.executable).with_name("schemathesis")), "run",
        f"{base_url}/openapi.json",
        "--checks", "not_a_server_error,status_code_conformance,"
        "content_type_conformance,response_schema_conformance",
        "--max-examples", str(max_examples), "--seed", "2017", "--generation-deterministic",
        *selection,
        "-H", f"Authorization: Bearer {stack.key}",
        "--request-timeout", "20", "--max-time", "45",
        "--phases", "examples,coverage,fuzzing", "--no-color",
    ]  # fmt: skip
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=cwd)
    out = (run.stdout + run.stderr).replace(stack.key, "<key>")
    assert run.returncode == 0, out[-6000:]
