"""Logs that follow an article: its ingest request id is in the ingest, relay and worker lines
for it, and every line is a JSON object (shared.logs; docs/operations.md, "Logs")."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import pytest
import requests

from shared.models import OutboxRow
from shared.tasknames import TASK_PROCESS_IMAGES

pytestmark = pytest.mark.e2e

LOGS = ("ingest", "relay", "worker", "feed")


def article(tag: str) -> dict:
    return {
        "source": "tests",
        "guid": f"logs-{tag}",
        "language": "zh-CN",
        "versionCreated": "2026-11-27T10:00:00+08:00",
        "headlines": [{"value": f"日志 {tag}"}],
        "bodies": [{"value": "<p>正文。</p>"}],
        "places": [{"name": "内蒙"}],
    }


def log_path(stack, name: str) -> Path:
    return stack.settings.data_dir / "logs" / f"{name}.log"


def lines_with(stack, needle: str) -> dict[str, list[str]]:
    found = {}
    for name in LOGS:
        path = log_path(stack, name)
        text = path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""
        found[name] = [line for line in text.splitlines() if needle in line]
    return found


def wait_lines(stack, needle: str, done, timeout: float = 20) -> dict[str, list[dict]]:
    """The parsed lines naming ``needle`` once ``done(parsed)`` holds; every one must be JSON."""
    deadline = time.monotonic() + timeout
    while True:
        raw = lines_with(stack, needle)
        parsed = {name: [json.loads(line) for line in lines] for name, lines in raw.items()}
        if done(parsed) or time.monotonic() > deadline:
            return parsed
        time.sleep(0.2)


def has_task_line(lines: list[dict], task: str, event: str) -> bool:
    return any(x.get("task") == task and x["event"] == event for x in lines)


def test_one_articles_request_id_is_in_its_ingest_relay_and_worker_lines(stack):
    rid = f"t-{uuid.uuid4().hex}"
    resp = requests.post(
        f"{stack.ingest}/v1/articles",
        json=article(rid),
        headers={**stack.auth, "X-Request-ID": rid},
        timeout=30,
    )
    assert resp.status_code == 202, resp.text
    assert resp.headers["X-Request-ID"] == rid
    article_id = resp.json()["id"]
    stack.wait_status(article_id, "published")

    # No picture: the page is rendered inside the images task (render.tasks.process_images).
    task = "newsflow.images.process_article"
    found = wait_lines(stack, rid, lambda p: has_task_line(p["worker"], task, "task succeeded"))
    ingest = [x for x in found["ingest"] if x["logger"] == "ingest.observe"]
    assert ingest and ingest[0]["event"] == "article created"
    assert ingest[0]["article_id"] == article_id and ingest[0]["version"] == 1
    # The send after commit runs the relay's code in the ingest process (ingest.relay); the
    # relay process sends what it left (the next test).
    sent = [x for name in ("ingest", "relay") for x in found[name] if x["logger"] == "ingest.relay"]
    assert sent and sent[0]["article_id"] == article_id and "sent" in sent[0]["event"]
    worker = found["worker"]
    assert has_task_line(worker, task, "task started")
    assert has_task_line(worker, task, "task succeeded")
    # ... and the feed rebuilds it sent carry the request id on.
    assert has_task_line(worker, "newsflow.feeds.rebuild", "task started")
    for line in worker:
        assert line["service"] == "worker" and line["task_id"]
        if line["task"] == task:
            assert (line["article_id"], line["version"]) == (article_id, 1)


def test_a_row_the_relay_process_sends_carries_its_request_id_to_the_worker(stack):
    resp = stack.post(article(uuid.uuid4().hex))
    article_id = resp.json()["id"]
    stack.wait_status(article_id, "published")
    rid = f"relay-{uuid.uuid4().hex}"
    # As ingest leaves a row when its send after commit fails (the broker away): the relay
    # process sends it, with the request id of the row.
    with stack.writes() as session:
        session.add(OutboxRow(task=TASK_PROCESS_IMAGES, args={
            "args": [article_id, 1], "headers": {"request_id": rid}}))  # fmt: skip
    found = wait_lines(stack, rid, lambda p: bool(p["relay"]) and len(p["worker"]) >= 2)
    assert found["relay"] and found["relay"][0]["service"] == "relay"
    assert found["relay"][0]["article_id"] == article_id
    assert any(x["article_id"] == article_id for x in found["worker"])


def test_a_hostile_request_id_is_replaced_and_never_logged(stack):
    hostile = "evil<script>" + "x" * 300
    resp = requests.get(f"{stack.ingest}/v1/schema", headers={"X-Request-ID": hostile}, timeout=10)
    given = resp.headers["X-Request-ID"]
    assert given != hostile and len(given) == 32 and given.isalnum()
    found = wait_lines(stack, given, lambda p: bool(p["ingest"]))
    assert any(x["event"].startswith("X-Request-ID refused") for x in found["ingest"])
    assert not any(lines_with(stack, "evil<script>").values())


# Celery's worker prints these two lines itself on a stop signal (celery.apps.worker's
# safe_say writes to stderr, past logging): the one known exception, left for a later fix in
# the launcher (wrap a child's non-JSON lines).
CELERY_SHUTDOWN_SAY = {
    "",
    "worker: Warm shutdown (MainProcess)",
    "worker: Cold shutdown (MainProcess)",
}


def test_every_line_of_the_service_logs_is_a_json_object(stack):
    stack.wait_idle()
    for name in LOGS:
        for number, line in enumerate(log_path(stack, name).read_text().splitlines(), 1):
            if name == "worker" and line in CELERY_SHUTDOWN_SAY:
                continue
            try:
                parsed = json.loads(line)
            except ValueError:
                pytest.fail(f"{name}.log line {number} is not JSON: {line[:300]!r}")
            assert {"ts", "level", "service", "event"} <= set(parsed), (name, number, line)


def test_a_hostile_request_id_in_a_message_header_is_dropped_by_the_worker(stack):
    """Anyone who can write to Redis can write headers: the worker checks them again."""
    from render.app import create_app

    resp = stack.post(article(uuid.uuid4().hex))
    article_id = resp.json()["id"]
    stack.wait_status(article_id, "published")
    client = create_app(stack.settings)
    sent = client.send_task(
        TASK_PROCESS_IMAGES,
        args=[article_id, 1],
        queue="images",
        headers={"request_id": "forged\nline evil-header", "ingested_at": "soon"},
    )
    found = wait_lines(stack, sent.id, lambda p: has_task_line(p["worker"], TASK_PROCESS_IMAGES,
                                                               "task succeeded"))  # fmt: skip
    assert has_task_line(found["worker"], TASK_PROCESS_IMAGES, "task succeeded")
    assert all("request_id" not in x for x in found["worker"] if x.get("task_id") == sent.id)
    assert not any(lines_with(stack, "evil-header").values())


def test_a_passing_health_probe_writes_no_access_line(stack):
    rid = f"probe-{uuid.uuid4().hex}"
    requests.get(f"{stack.ingest}/healthz", headers={"X-Request-ID": rid}, timeout=10)
    requests.get(f"{stack.ingest}/v1/nothing", headers={"X-Request-ID": rid + "-404"}, timeout=10)
    found = wait_lines(stack, rid, lambda p: bool(p["ingest"]))
    assert [x["status"] for x in found["ingest"] if x["logger"] == "ingest.access"] == [404]


def test_a_hub_requests_id_is_in_its_verification_lines(stack, httpserver):
    """The feed's hub hands its request id to the verification task it sends."""
    httpserver.expect_request("/cb-logs").respond_with_data("no, thanks")
    stack.post(article(uuid.uuid4().hex))
    stack.wait_feed("/feeds/all.atom", lambda body: True)  # a topic the hub knows
    rid = f"hub-{uuid.uuid4().hex}"
    resp = requests.post(
        f"{stack.feed}/hub",
        data={
            "hub.mode": "subscribe",
            "hub.topic": f"{stack.settings.public_base_url}/feeds/all.atom",
            "hub.callback": f"http://127.0.0.1:{httpserver.port}/cb-logs",
        },
        headers={"X-Request-ID": rid},
        timeout=10,
    )
    assert resp.status_code == 202, resp.text
    assert resp.headers["X-Request-ID"] == rid
    verify = "newsflow.notify.websub_verify"
    found = wait_lines(stack, rid, lambda p: has_task_line(p["worker"], verify, "task succeeded"))
    assert has_task_line(found["worker"], verify, "task started")
