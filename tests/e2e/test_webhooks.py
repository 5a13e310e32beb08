"""Webhooks end to end: the real worker, relay, ingest and store; a pytest-httpserver as the
partner's endpoint; every delivery verified with the ``standardwebhooks`` package, as a
partner would. The stack's settings make the retry schedule short (tests/conftest.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa
from standardwebhooks import Webhook
from werkzeug import Request, Response

from shared.models import utcnow
from tests.ingest.test_api_bad_input import article, now_shanghai

pytestmark = pytest.mark.e2e


def cli(stack, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, **stack.settings.to_env()}
    return subprocess.run(
        [sys.executable, "-m", "newsflow", "partner", *args],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


class Endpoint:
    """A partner's endpoint on the test HTTP server: answers from a script, then 204; keeps
    every request with the payload its signature verified (or the verification error)."""

    def __init__(self, stack, httpserver, scopes: str, answers=(), events: str | None = None):
        self.name = f"wh-{uuid.uuid4().hex[:10]}"
        self.path = f"/hooks/{self.name}"
        self.answers = list(answers)
        self.received: list[dict] = []
        self.lock = threading.Lock()
        run = cli(stack, "add", self.name, "--scopes", scopes)
        assert run.returncode == 0, run.stderr
        httpserver.expect_request(self.path, method="POST").respond_with_handler(self.handle)
        args = ["webhook", "add", self.name, httpserver.url_for(self.path), "--json"]
        run = cli(stack, *args, *(["--events", events] if events else []))
        assert run.returncode == 0, run.stderr
        added = json.loads(run.stdout)
        self.id, self.secret = added["endpointId"], added["secret"]
        self.stack = stack

    def handle(self, request: Request) -> Response:
        body = request.get_data()
        try:
            verified = Webhook(self.secret).verify(body, dict(request.headers))
            error = None
        except Exception as exc:
            verified, error = None, f"{type(exc).__name__}: {exc}"
        with self.lock:
            self.received.append(
                {"headers": dict(request.headers), "payload": verified, "error": error}
            )
            status, headers = self.answers.pop(0) if self.answers else (204, {})
        return Response("" if status < 300 else "busy", status=status, headers=headers)

    def wait_received(self, count: int, timeout: float = 60) -> list[dict]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.received) >= count:
                    return list(self.received)
            time.sleep(0.05)
        raise AssertionError(f"{self.name} received {len(self.received)}, not {count}")

    def deliveries(self) -> list[dict]:
        run = cli(self.stack, "deliveries", self.name, "--json")
        assert run.returncode == 0, run.stderr
        return [json.loads(line) for line in run.stdout.splitlines()]

    def wait_delivery(self, want: str, timeout: float = 60) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.stack.engine.connect() as conn:
                rows = conn.execute(
                    sa.text("SELECT status FROM webhook_deliveries WHERE endpoint_id = :e"),
                    {"e": self.id},
                ).all()
            if rows and all(r.status == want for r in rows):
                return self.deliveries()
            time.sleep(0.1)
        raise AssertionError(f"{self.name}'s deliveries are not {want}: {self.deliveries()}")

    def remove(self) -> None:
        cli(self.stack, "webhook", "remove", self.id)


@pytest.fixture
def endpoints(stack, httpserver):
    made: list[Endpoint] = []

    def make(scopes: str = "content:read", answers=(), events: str | None = None) -> Endpoint:
        endpoint = Endpoint(stack, httpserver, scopes, answers, events)
        made.append(endpoint)
        return endpoint

    yield make
    for endpoint in made:  # later tests' articles must not go to this test's server
        endpoint.remove()


def publish(stack, **overrides) -> str:
    resp = stack.post(article(**overrides))
    assert resp.status_code == 202, resp.text
    return resp.json()["id"]


def test_503s_are_retried_then_delivered_once_each_attempt_signed(stack, endpoints):
    hook = endpoints(answers=[(503, {})] * 3)
    article_id = publish(stack)
    received = hook.wait_received(4)
    assert [r["error"] for r in received] == [None] * 4  # standardwebhooks verified each
    assert len({r["headers"]["Webhook-Id"] for r in received}) == 1  # the same message
    payload = received[-1]["payload"]
    assert payload["type"] == "article.published"
    assert payload["data"]["operation"] == "published"
    assert payload["data"]["embargoed"] is False
    assert payload["data"]["item"]["uri"] == f"urn:newsflow:article:{article_id}"
    assert isinstance(payload["data"]["sequence"], int)
    [delivery] = hook.wait_delivery("delivered")
    assert delivery["id"] == received[0]["headers"]["Webhook-Id"]
    assert delivery["attempts"] == 4 and delivery["lastStatus"] == 204
    assert delivery["sequence"] == payload["data"]["sequence"]


def test_a_400_is_not_retried(stack, endpoints):
    hook = endpoints(answers=[(400, {})])
    publish(stack)
    [delivery] = hook.wait_delivery("failed")
    assert delivery["attempts"] == 1 and delivery["lastStatus"] == 400
    time.sleep(2)  # longer than the whole test retry schedule
    assert len(hook.received) == 1


def test_a_410_stops_the_deliveries_and_disables_the_endpoint(stack, endpoints):
    hook = endpoints(answers=[(410, {})])
    publish(stack)
    [delivery] = hook.wait_delivery("failed")
    assert delivery["lastStatus"] == 410
    shown = cli(stack, "show", hook.name)
    assert f"webhook {hook.id}  disabled" in shown.stdout
    assert "answered 410 Gone" in shown.stdout
    publish(stack)  # a later change is not sent to a disabled endpoint
    time.sleep(2)
    assert len(hook.received) == 1


def test_resend_sends_the_same_id_with_a_new_timestamp(stack, endpoints):
    hook = endpoints()
    publish(stack)
    [first] = hook.wait_received(1)
    [delivery] = hook.wait_delivery("delivered")
    time.sleep(1.1)  # the timestamp counts seconds
    run = cli(stack, "resend", delivery["id"])
    assert run.returncode == 0, run.stderr
    _, again = hook.wait_received(2)
    assert again["error"] is None
    assert again["headers"]["Webhook-Id"] == first["headers"]["Webhook-Id"]
    assert int(again["headers"]["Webhook-Timestamp"]) > int(first["headers"]["Webhook-Timestamp"])
    assert again["payload"] == first["payload"]
    [after] = hook.wait_delivery("delivered")
    assert after["attempts"] == 2


def test_an_embargoed_article_reaches_only_an_embargo_read_partner_until_release(stack, endpoints):
    seer = endpoints(scopes="content:read,embargo:read")
    plain = endpoints(scopes="content:read")
    until = utcnow() + timedelta(seconds=3)
    article_id = publish(stack, embargoedUntil=until.isoformat())
    [held] = seer.wait_received(1)
    assert held["error"] is None
    assert held["payload"]["data"]["embargoed"] is True
    assert held["payload"]["data"]["item"]["uri"] == f"urn:newsflow:article:{article_id}"
    assert "renditions" not in held["payload"]["data"]["item"]  # no public page yet
    time.sleep(max(0.0, (until - utcnow()).total_seconds() - 0.5))
    assert plain.received == []  # half a second before its time: nothing yet
    # No manual step: the stack's scheduler releases it (newsflow.scheduler).
    [released] = plain.wait_received(1)
    assert released["error"] is None
    assert int(released["headers"]["Webhook-Timestamp"]) >= int(until.timestamp())
    assert released["payload"]["type"] == "article.released"
    assert released["payload"]["data"]["embargoed"] is False
    _, seen = seer.wait_received(2)
    assert seen["payload"]["type"] == "article.released"
    assert seen["payload"]["data"]["sequence"] > held["payload"]["data"]["sequence"]


def test_only_the_subscribed_events_are_sent(stack, endpoints):
    hook = endpoints(events="withdrawn")
    guid = f"wh-{uuid.uuid4().hex}"
    article_id = publish(stack, guid=guid)
    stack.wait_status(article_id, "published")
    publish(stack, guid=guid, pubStatus="canceled", versionCreated=now_shanghai())
    [gone] = hook.wait_received(1)
    assert gone["payload"]["type"] == "article.withdrawn"
    assert gone["payload"]["data"]["item"]["pubStatus"] == "canceled"
    assert "bodies" not in gone["payload"]["data"]["item"]
