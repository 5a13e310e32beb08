"""Every generated contract file is what the code generates now (the article JSON Schema and
each service's OpenAPI document), and `newsflow schema --check` says so, or which is stale."""

from __future__ import annotations

import subprocess
import sys

import pytest

from newsflow.generated import files


@pytest.mark.parametrize("path", list(files()), ids=lambda p: p.name)
def test_the_committed_file_is_fresh(path):
    render = files()[path]
    assert path.exists() and path.read_text(encoding="utf-8") == render(), (
        f"{path} is stale: run `newsflow schema`"
    )


def test_the_check_names_a_stale_file(tmp_path, monkeypatch):
    import newsflow.generated as generated

    stale = tmp_path / "stale.json"
    stale.write_text("{}\n")
    monkeypatch.setattr(generated, "files", lambda: {stale: lambda: '{"fresh": 1}\n'})
    from click.testing import CliRunner

    from newsflow.cli import main

    result = CliRunner().invoke(main, ["schema", "--check"])
    assert result.exit_code == 1
    assert f"{stale} is stale" in result.output


def test_the_check_passes_on_this_tree():
    run = subprocess.run(
        [sys.executable, "-m", "newsflow", "schema", "--check"], capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
