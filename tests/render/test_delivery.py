"""The one outbound path for WebSub and webhooks: the address guard before any connection,
what a reply means (transient or final, Retry-After), and a bounded read of the reply."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest

from render import delivery
from shared.settings import Settings

LOCAL = frozenset({"127.0.0.1", "localhost"})


def settings(allow=frozenset()) -> Settings:
    return Settings(
        data_dir=Path("/nonexistent"), database_url="sqlite://",
        redis_url="redis://127.0.0.1:1/0", public_base_url="https://news.example",
        fetch_allow_hosts=frozenset(allow),
    )  # fmt: skip


def private(host: str, port: int) -> list[str]:
    return ["10.0.0.7"]


def test_a_host_resolving_to_a_private_address_is_refused_before_connecting(httpserver):
    httpserver.expect_request("/h").respond_with_data("ok")
    url = f"http://partner.test:{httpserver.port}/h"
    reply = delivery.send(settings(), "POST", url, data=b"{}", resolver=private)
    assert reply.refused and not reply.transient and reply.status is None
    assert "10.0.0.7 is a private address" in reply.error
    assert httpserver.log == []


def test_an_allowlisted_host_is_reached_on_the_address_it_resolved_to(httpserver):
    httpserver.expect_request("/h", method="POST").respond_with_data("", status=204)
    reply = delivery.send(
        settings({"partner.test"}), "POST", f"http://partner.test:{httpserver.port}/h",
        data=b"{}", resolver=lambda host, port: ["127.0.0.1"],
    )  # fmt: skip
    assert reply.ok and reply.status == 204
    assert httpserver.log[0][0].headers["Host"] == f"partner.test:{httpserver.port}"


@pytest.mark.parametrize(
    ("status", "transient"), [(500, True), (503, True), (408, True), (429, True),
                              (400, False), (404, False), (410, False), (302, False)],
)  # fmt: skip
def test_which_answers_are_worth_another_attempt(httpserver, status, transient):
    httpserver.expect_request("/h").respond_with_data("no", status=status)
    reply = delivery.send(settings(LOCAL), "POST", httpserver.url_for("/h"), read=None)
    assert reply.status == status and reply.transient is transient
    assert reply.body == b"no"  # read for the error message


def test_no_answer_at_all_is_transient():
    reply = delivery.send(settings(LOCAL), "POST", "http://127.0.0.1:9/h")
    assert reply.status is None and reply.transient and not reply.refused


def test_retry_after_in_seconds_or_as_a_date_on_429_and_503(httpserver):
    httpserver.expect_oneshot_request("/h").respond_with_data(
        "", status=429, headers={"Retry-After": "120"}
    )
    s = settings(LOCAL)
    assert delivery.send(s, "POST", httpserver.url_for("/h")).retry_after == 120
    when = datetime.now(UTC) + timedelta(minutes=10)
    httpserver.expect_oneshot_request("/h").respond_with_data(
        "", status=503, headers={"Retry-After": format_datetime(when, usegmt=True)}
    )
    assert 590 <= delivery.send(s, "POST", httpserver.url_for("/h")).retry_after <= 600
    httpserver.expect_oneshot_request("/h").respond_with_data(
        "", status=500, headers={"Retry-After": "120"}
    )
    assert delivery.send(s, "POST", httpserver.url_for("/h")).retry_after is None


def test_a_bad_retry_after_is_ignored():
    assert delivery.retry_after("soon") is None
    assert delivery.retry_after(None) is None


def test_a_large_reply_is_read_only_up_to_the_limit(httpserver):
    httpserver.expect_request("/h").respond_with_data("x" * 1_000_000, status=500)
    reply = delivery.send(settings(LOCAL), "POST", httpserver.url_for("/h"), read=None)
    assert len(reply.body) == delivery.MAX_REPLY


def test_a_2xx_reply_is_not_read_for_a_webhook(httpserver):
    httpserver.expect_request("/h").respond_with_data("thanks", status=200)
    reply = delivery.send(settings(LOCAL), "POST", httpserver.url_for("/h"), read=None)
    assert reply.ok and reply.body is None
