"""``/healthz``'s checks: an answer within the timeout whatever the checked part does."""

from __future__ import annotations

import socket
import time

import pytest

from shared import health
from shared.db import make_engine
from tests.ingest.test_broker import HungPeer


@pytest.fixture
def hung():
    with HungPeer() as peer:
        yield peer


def timed_report(engine, redis_url) -> tuple[float, dict, int]:
    started = time.monotonic()
    body, code = health.report(engine, redis_url)
    return time.monotonic() - started, body, code


def test_all_well_is_200(engine, redis_srv):
    _elapsed, body, code = timed_report(engine, redis_srv.url)
    assert (code, body) == (200, {"status": "ok", "database": "ok", "redis": "ok"})


def test_a_hung_redis_is_503_within_the_timeout(engine, hung):
    elapsed, body, code = timed_report(engine, hung.url)
    assert code == 503 and body["status"] == "degraded"
    assert body["database"] == "ok" and body["redis"].startswith("error")
    assert elapsed < health.CHECK_TIMEOUT + 0.5, f"answered after {elapsed:.2f}s"


def test_a_dead_redis_is_503_at_once(engine):
    with socket.socket() as s:  # a port nobody listens on once closed
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    elapsed, body, code = timed_report(engine, f"redis://127.0.0.1:{port}/0")
    assert code == 503 and body["redis"] == "error: ConnectionError"
    assert elapsed < health.CHECK_TIMEOUT


def test_a_hung_database_is_503_within_the_timeout(redis_srv, hung):
    port = hung.sock.getsockname()[1]
    engine = make_engine(f"postgresql://nobody@127.0.0.1:{port}/none")
    elapsed, body, code = timed_report(engine, redis_srv.url)
    assert code == 503
    assert body["redis"] == "ok" and body["database"] == "error: no answer within 1s"
    assert elapsed < health.CHECK_TIMEOUT + 0.5, f"answered after {elapsed:.2f}s"


def test_probes_during_a_hang_share_the_stuck_check(redis_srv, hung):
    """One stuck connection, not one per probe: a long outage piles nothing up."""
    port = hung.sock.getsockname()[1]
    engine = make_engine(f"postgresql://nobody@127.0.0.1:{port}/none")
    for _ in range(3):
        elapsed, _body, code = timed_report(engine, redis_srv.url)
        assert code == 503
    assert elapsed < 0.5  # the stuck check has already overrun: no need to wait again
    assert len(hung.accepted) == 1
