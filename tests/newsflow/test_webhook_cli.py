"""`newsflow partner webhook …`, `deliveries`, `resend`: the secret printed once and never
again, the address guard at `add`, clear messages for bad input.

On a SQLite store of their own (the store functions are tested on both databases in
tests/shared): an endpoint left in the session's store would be sent every later test's
changes by the running stack's worker."""

from __future__ import annotations

import json
import os

import pytest

from tests.newsflow.test_partner_cli import cli, unique


@pytest.fixture
def wenv(tmp_path):
    """The CLI's environment with loopback allowed, as the test suite allows it."""
    return {
        **os.environ,
        "NEWSFLOW_DATA_DIR": str(tmp_path / "var"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
        "FETCH_ALLOW_HOSTS": "127.0.0.1",
    }


def partner(env, scopes="content:read") -> str:
    name = unique("hooked")
    run = cli(env, "add", name, "--scopes", scopes)
    assert run.returncode == 0, run.stderr
    return name


def add(env, name, url="http://127.0.0.1:9/hook", *extra) -> dict:
    run = cli(env, "webhook", "add", name, url, "--json", *extra)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def test_add_prints_the_secret_once(wenv):
    name = partner(wenv)
    added = add(wenv, name, "http://127.0.0.1:9/hook", "--events", "published,withdrawn")
    assert added["secret"].startswith("whsec_")
    assert added["events"] == ["published", "withdrawn"]
    for later in (cli(wenv, "webhook", "list", name), cli(wenv, "show", name)):
        assert later.returncode == 0, later.stderr
        assert added["endpointId"] in later.stdout
        assert added["secret"] not in later.stdout + later.stderr
        assert added["secret"][len("whsec_") :] not in later.stdout


def test_a_url_resolving_to_a_private_address_is_refused(wenv):
    name = partner(wenv)
    for url in ("http://10.1.2.3/hook", "http://localhost:9/hook", "http://[::1]/hook"):
        run = cli(wenv, "webhook", "add", name, url)
        assert run.returncode == 2
        assert "webhook URL refused" in run.stderr and "Traceback" not in run.stderr
    assert "no webhook endpoint" in cli(wenv, "webhook", "list", name).stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["webhook", "add", "nobody-here", "http://127.0.0.1:9/"], "no partner named"),
        (["webhook", "add", "{p}", "ftp://127.0.0.1/"], "only http and https"),
        (["webhook", "add", "{p}", "http://127.0.0.1:9/", "--events", "printed"], "unknown event"),
        (["webhook", "remove", "ep_nope"], "no webhook endpoint"),
        (["webhook", "rotate-secret", "ep_nope"], "no webhook endpoint"),
        (["webhook", "rotate-secret", "ep_nope", "--grace", "soon"], "30m, 24h or 7d"),
        (["resend", "msg_nope"], "no delivery"),
        (["resend"], "name a delivery id, or give --since"),
        (["resend", "--since", "yesterday"], "not an ISO 8601"),
        (["deliveries", "nobody-here"], "no partner named"),
    ],
)
def test_bad_input_gets_a_clear_message(wenv, args, message):
    name = partner(wenv)
    run = cli(wenv, *[a.replace("{p}", name) for a in args])
    assert run.returncode == 2, run.stdout
    assert message in run.stderr and "Traceback" not in run.stderr


def test_a_partner_without_content_read_gets_no_webhook(wenv):
    run = cli(wenv, "webhook", "add", partner(wenv, "ingest:write"), "http://127.0.0.1:9/")
    assert run.returncode == 2 and "lacks the content:read scope" in run.stderr


def test_rotation_prints_a_new_secret_and_how_long_the_old_one_signs(wenv):
    added = add(wenv, partner(wenv))
    run = cli(wenv, "webhook", "rotate-secret", added["endpointId"], "--grace", "2h", "--json")
    assert run.returncode == 0, run.stderr
    rotated = json.loads(run.stdout)
    assert rotated["secret"].startswith("whsec_") and rotated["secret"] != added["secret"]
    assert rotated["previousSecretUntil"] is not None


def test_remove_takes_the_endpoint_away(wenv):
    name = partner(wenv)
    added = add(wenv, name)
    assert cli(wenv, "webhook", "remove", added["endpointId"]).returncode == 0
    assert added["endpointId"] not in cli(wenv, "webhook", "list", name).stdout
    assert "no delivery" in cli(wenv, "deliveries", name).stdout
