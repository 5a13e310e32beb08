"""One webhook attempt on the worker's side, against a real local HTTP server and a real
store: the address guard at each attempt, and which retries wait for a countdown and which
for the scheduler's sweep."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import update
from standardwebhooks import Webhook

from render import webhooks
from shared.models import WebhookDelivery, WebhookEndpoint, utcnow
from shared.settings import Settings
from shared.webhooks import dispatch, endpoints
from tests.shared.webhook_store import (
    BASE,
    SERVER_SECRET,
    log_change,
    new_article,
    new_partner,
    sessions,  # noqa: F401  (the fixture)
)

SETTINGS = Settings(
    data_dir=Path("/nonexistent"), database_url="sqlite://", redis_url="redis://127.0.0.1:1/0",
    public_base_url=BASE, key_secret=SERVER_SECRET.decode(), webhook_retry_base_s=0.2,
)  # fmt: skip


@pytest.fixture(autouse=True)
def no_other_endpoint(sessions):  # noqa: F811
    yield
    with sessions.begin() as session:
        session.execute(update(WebhookEndpoint).values(status="disabled"))


def one_delivery(sessions, url: str) -> tuple[str, str]:  # noqa: F811
    """An endpoint at ``url`` with one delivery waiting: (delivery id, signing secret)."""
    with sessions.begin() as session:
        name = new_partner(session, ["content:read"])
        secret = endpoints.add(session, name, url, [], SERVER_SECRET, utcnow()).secret
        log_change(session, new_article(session), "published")
        [made], _ = dispatch.dispatch(session, utcnow())
    return made, secret


def ctx(sessions, **changes):  # noqa: F811
    return SimpleNamespace(settings=dataclasses.replace(SETTINGS, **changes), sessions=sessions)


def loopback(host: str, port: int) -> list[str]:
    return ["127.0.0.1"]


def test_an_endpoint_now_resolving_to_a_private_address_is_refused(sessions, httpserver):  # noqa: F811
    httpserver.expect_request("/h").respond_with_data("", status=204)
    delivery_id, _ = one_delivery(sessions, f"http://partner.test:{httpserver.port}/h")
    later = []
    outcome = webhooks.deliver(
        ctx(sessions), delivery_id, later.append, resolver=lambda host, port: ["192.168.1.9"]
    )
    assert outcome == "failed" and later == [] and httpserver.log == []
    with sessions() as session:
        d = session.get(WebhookDelivery, delivery_id)
        assert d.status == "failed" and "192.168.1.9 is a private address" in d.last_error


def test_a_delivery_is_signed_and_recorded(sessions, httpserver):  # noqa: F811
    httpserver.expect_request("/h", method="POST").respond_with_data("", status=204)
    delivery_id, secret = one_delivery(sessions, f"http://partner.test:{httpserver.port}/h")
    c = ctx(sessions, fetch_allow_hosts=frozenset({"partner.test"}))
    assert webhooks.deliver(c, delivery_id, [].append, resolver=loopback) == "delivered"
    ((request, _),) = httpserver.log
    payload = Webhook(secret).verify(request.get_data(), dict(request.headers))
    assert request.headers["webhook-id"] == delivery_id
    assert payload["type"] == "article.published"


def test_a_soon_retry_goes_back_with_a_countdown(sessions, httpserver):  # noqa: F811
    httpserver.expect_request("/h").respond_with_data("", status=503)
    delivery_id, _ = one_delivery(sessions, f"http://partner.test:{httpserver.port}/h")
    c, later = ctx(sessions, fetch_allow_hosts=frozenset({"partner.test"})), []
    assert webhooks.deliver(c, delivery_id, later.append, resolver=loopback) == "retrying"
    [countdown] = later
    assert 0 < countdown <= 0.25


def test_a_distant_retry_waits_in_the_store_for_the_sweep(sessions, httpserver):  # noqa: F811
    httpserver.expect_request("/h").respond_with_data("", status=503)
    delivery_id, _ = one_delivery(sessions, f"http://partner.test:{httpserver.port}/h")
    c = ctx(sessions, fetch_allow_hosts=frozenset({"partner.test"}), webhook_retry_base_s=600)
    later = []
    assert webhooks.deliver(c, delivery_id, later.append, resolver=loopback) == "retrying"
    assert later == []  # no countdown near the broker's visibility timeout
    with sessions() as session:
        assert session.get(WebhookDelivery, delivery_id).next_attempt_at > utcnow()
