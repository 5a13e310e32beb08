"""feed.observe: request ids on the answers Flask gives, and /metrics behind METRICS_TOKEN."""

from __future__ import annotations

import dataclasses

import pytest
import requests

from feed.app import create_app

pytestmark = pytest.mark.e2e


def test_an_answer_echoes_the_request_id(stack):
    resp = requests.get(f"{stack.feed}/healthz", headers={"X-Request-ID": "feed-1"}, timeout=10)
    assert resp.headers["X-Request-ID"] == "feed-1"


def test_a_hostile_request_id_is_replaced(stack):
    resp = requests.get(f"{stack.feed}/healthz", headers={"X-Request-ID": "a b"}, timeout=10)
    assert resp.headers["X-Request-ID"] != "a b" and len(resp.headers["X-Request-ID"]) == 32


@pytest.fixture
def client_with_token(stack):
    settings = dataclasses.replace(stack.settings, metrics_token="tok-1")
    return create_app(settings, sender=lambda *a, **k: None).test_client()


def test_with_a_token_even_loopback_must_send_it(client_with_token):
    resp = client_with_token.get("/metrics", environ_base={"REMOTE_ADDR": "127.0.0.1"})
    assert resp.status_code == 401
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")
    assert b"newsflow_" not in resp.data


def test_with_a_token_any_address_that_sends_it_may_read(client_with_token):
    resp = client_with_token.get(
        "/metrics",
        headers={"Authorization": "Bearer tok-1"},
        environ_base={"REMOTE_ADDR": "203.0.113.9"},
    )
    assert resp.status_code == 200
    assert b"# TYPE" in resp.data
