"""ingest.observe: /metrics behind METRICS_TOKEN (the rest: tests/e2e/test_logs.py and
tests/e2e/test_metrics.py, against the running servers)."""

from __future__ import annotations

import dataclasses

import pytest

from ingest.app import create_app
from ingest.context import IngestContext

pytestmark = pytest.mark.e2e


@pytest.fixture
def client_with_token(stack):
    settings = dataclasses.replace(stack.settings, metrics_token="tok-1")
    return create_app(settings, IngestContext.build(settings)).test_client()


def test_with_a_token_even_loopback_must_send_it(client_with_token):
    resp = client_with_token.get("/metrics", environ_base={"REMOTE_ADDR": "127.0.0.1"})
    assert resp.status_code == 401
    assert resp.json["error"] == "metrics_token_required"
    assert resp.headers["X-Request-ID"]


def test_with_a_token_any_address_that_sends_it_may_read(client_with_token):
    resp = client_with_token.get(
        "/metrics",
        headers={"Authorization": "Bearer tok-1"},
        environ_base={"REMOTE_ADDR": "203.0.113.9"},
    )
    assert resp.status_code == 200
    assert b"# TYPE newsflow_ingest_articles_total counter" in resp.data
