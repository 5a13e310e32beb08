"""Rate limits, counted in the real Redis: per key on the live server, per address for
requests without one, the IETF RateLimit fields, and failing open when Redis is away."""

from __future__ import annotations

import dataclasses
import re
import time

import pytest
import requests

from ingest.app import create_app
from ingest.context import IngestContext
from tests.ingest.test_api_bad_input import article

pytestmark = pytest.mark.e2e


def post(stack, key: str) -> requests.Response:
    return requests.post(
        f"{stack.ingest}/v1/articles",
        json=article(),
        headers={"Authorization": f"Bearer {key}"},
        timeout=10,
    )


def test_a_burst_over_the_limit_gets_429_with_retry_after(stack):
    key = stack.new_partner(["ingest:write"], ["tests"], rate_limit="5/minute")
    answers = [post(stack, key) for _ in range(6)]
    assert [a.status_code for a in answers[:5]] == [202] * 5
    over = answers[5]
    assert over.status_code == 429
    assert over.json()["error"] == "too_many_requests"
    assert 1 <= int(over.headers["Retry-After"]) <= 60
    assert over.headers["RateLimit-Policy"] == '"default";q=5;w=60'
    assert re.fullmatch(r'"default";r=0;t=\d+', over.headers["RateLimit"])


def test_another_key_is_not_limited_by_the_first(stack):
    first = stack.new_partner(["ingest:write"], ["tests"], rate_limit="2/minute")
    second = stack.new_partner(["ingest:write"], ["tests"], rate_limit="2/minute")
    assert [post(stack, first).status_code for _ in range(3)] == [202, 202, 429]
    assert post(stack, second).status_code == 202


def test_every_limited_answer_says_what_is_left(stack):
    key = stack.new_partner(["ingest:write"], ["tests"], rate_limit="10/minute")
    first, second = post(stack, key), post(stack, key)
    assert first.headers["RateLimit-Policy"] == '"default";q=10;w=60'
    assert first.headers["RateLimit"].startswith('"default";r=9;')
    assert second.headers["RateLimit"].startswith('"default";r=8;')


def test_requests_without_a_key_are_limited_per_address(stack, redis_srv):
    settings = dataclasses.replace(stack.settings, rate_limit="3/minute")
    client = create_app(settings, IngestContext.build(settings)).test_client()
    here = {"REMOTE_ADDR": "192.0.2.7"}
    codes = [client.get("/v1/schema", environ_base=here).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    elsewhere = client.get("/v1/schema", environ_base={"REMOTE_ADDR": "192.0.2.8"})
    assert elsewhere.status_code == 200


def test_health_checks_are_never_limited(stack):
    settings = dataclasses.replace(stack.settings, rate_limit="1/minute")
    client = create_app(settings, IngestContext.build(settings)).test_client()
    here = {"REMOTE_ADDR": "192.0.2.9"}
    assert {client.get("/healthz", environ_base=here).status_code for _ in range(3)} == {200}


def test_limits_fail_open_when_redis_is_away_and_say_so(stack):
    stack.wait_idle()
    key = stack.new_partner(["ingest:write"], ["tests"], rate_limit="1/minute")
    log = stack.settings.data_dir / "logs" / "ingest.log"
    before = log.read_text(errors="replace").count("Failed to rate limit")
    stack.redis.stop()
    try:
        started = time.monotonic()
        answers = [post(stack, key).status_code for _ in range(2)]
        elapsed = time.monotonic() - started
    finally:
        stack.redis.start()
    # Over its 1/minute limit, and still accepted: the outbox keeps both for the relay.
    assert answers == [202, 202]
    assert elapsed < 5
    deadline = time.monotonic() + 10
    while log.read_text(errors="replace").count("Failed to rate limit") < before + 2:
        assert time.monotonic() < deadline, "no log line says the limit was not checked"
        time.sleep(0.1)
