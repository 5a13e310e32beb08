"""`newsflow partner …` on a store of its own: the key printed once, never again; rotation,
revocation and the audit listing; clear messages for bad input."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from shared import migrate


@pytest.fixture
def env(tmp_path, database_url):
    """The CLI's environment: a data dir of its own (for the key secret) and the store."""
    migrate.upgrade(database_url)
    return {**os.environ, "NEWSFLOW_DATA_DIR": str(tmp_path / "var"), "DATABASE_URL": database_url}


def cli(env, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "newsflow", "partner", *args],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def unique(prefix: str) -> str:
    import uuid

    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_add_prints_the_key_once_as_json(env):
    name = unique("acme")
    run = cli(env, "add", name, "--scopes", "ingest:write,content:read", "--sources", "acme",
              "--expires", "2030-01-01", "--json")  # fmt: skip
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert set(out) == {"partner", "keyId", "key", "scopes", "expires"}
    assert out["partner"] == name
    assert re.fullmatch(r"nf_live_[a-z2-7]{16}_[A-Za-z0-9_-]{43}", out["key"])
    assert out["key"].startswith(f"nf_live_{out['keyId']}_")
    assert out["scopes"] == ["content:read", "ingest:write"]
    assert out["expires"].startswith("2030-01-01")
    for later in (cli(env, "list"), cli(env, "show", name)):
        assert later.returncode == 0, later.stderr
        assert out["key"] not in later.stdout + later.stderr
        assert name in later.stdout


def test_show_lists_each_key_by_id_with_its_state(env):
    name = unique("beta")
    first = json.loads(cli(env, "add", name, "--scopes", "admin", "--json").stdout)
    second = json.loads(cli(env, "rotate-key", name, "--grace", "24h", "--json").stdout)
    shown = cli(env, "show", name).stdout
    assert re.search(rf"key {first['keyId']} .* live until ", shown), shown
    assert re.search(rf"key {second['keyId']} .* live$", shown, re.M), shown


def test_revoke_by_key_id_and_by_name(env):
    name = unique("gamma")
    first = json.loads(cli(env, "add", name, "--scopes", "admin", "--json").stdout)
    assert "revoked key" in cli(env, "revoke", first["keyId"]).stdout
    assert "revoked" in cli(env, "show", name).stdout
    assert "and all its keys" in cli(env, "revoke", name).stdout
    assert "(revoked)" in cli(env, "show", name).stdout


def test_audit_of_a_partner_without_requests_is_empty(env):
    name = unique("delta")
    cli(env, "add", name, "--scopes", "admin")
    run = cli(env, "audit", name, "--json")
    assert run.returncode == 0 and run.stdout == ""


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["add", "x1", "--scopes", "everything"], "unknown scope"),
        (["add", "x2", "--scopes", "admin", "--allow-ip", "nowhere"], "not an address"),
        (["add", "x3", "--scopes", "admin", "--expires", "someday"], "not an ISO 8601"),
        (["add", "x4", "--scopes", "admin", "--rate-limit", "lots"], "--rate-limit"),
        (["rotate-key", "nobody-here", "--grace", "1h"], "no partner named"),
        (["rotate-key", "nobody-here", "--grace", "soon"], "30m, 24h or 7d"),
        (["revoke", "nobody-here"], "no partner or key id"),
    ],
)
def test_bad_input_is_a_clear_message(env, args, message):
    run = cli(env, *args)
    assert run.returncode == 2
    assert message in run.stderr
    assert "Traceback" not in run.stderr
