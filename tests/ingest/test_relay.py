"""The outbox relay against a real store: each row goes out once; a failed send keeps it."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from ingest.broker import RELAY_DEADLINE, make_celery_client, relay_sender
from ingest.relay import MAX_BACKOFF, next_pause, relay_pass, relay_pending, run_forever, send_one
from shared import migrate
from shared.db import make_engine, make_sessionmaker
from shared.models import OutboxRow
from shared.redisurl import client
from shared.tasknames import TASK_PROCESS_IMAGES, TASK_RENDER_PAGE
from tests.conftest import _postgres_database
from tests.ingest.test_broker import HungPeer, running_redis


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def relay_database_url(request, tmp_path_factory) -> Iterator[str]:
    """A database of this module's own, on SQLite and on PostgreSQL: the session's stack
    runs a relay on the shared one, which would take (and send) these tests' rows."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('relay') / 'relay.db'}"
        migrate.upgrade(url)
        yield url
        return
    database = _postgres_database()
    url = next(database)
    migrate.upgrade(url)
    yield url
    database.close()


@pytest.fixture
def sessions(relay_database_url):
    engine = make_engine(relay_database_url, immediate=True)
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM outbox"))
    yield make_sessionmaker(engine)
    engine.dispose()


@pytest.fixture
def hung():
    with HungPeer() as peer:
        yield peer


@pytest.fixture
def private_redis(tmp_path):
    with running_redis(tmp_path / "redis") as running:
        yield running


def add_rows(sessions, n: int, task: str = "t") -> list[int]:
    with sessions.begin() as session:
        rows = [OutboxRow(task=task, args={"args": [f"a{i}", 1]}) for i in range(n)]
        session.add_all(rows)
        session.flush()
        return [r.id for r in rows]


class Recorder:
    """Stands in for the broker (the world outside the relay), recording what it is given."""

    def __init__(self, fail: bool = False) -> None:
        self.sent: list[list] = []
        self.headers: list[dict | None] = []
        self.fail = fail
        self.lock = threading.Lock()

    def __call__(self, task, args, eta=None, headers=None):
        if self.fail:
            raise ConnectionError("broker away")
        with self.lock:
            self.sent.append(args)
            self.headers.append(headers)


def test_pending_rows_are_sent_in_order_and_marked(sessions):
    add_rows(sessions, 3)
    send = Recorder()
    assert relay_pending(sessions, send) == 3
    assert send.sent == [["a0", 1], ["a1", 1], ["a2", 1]]
    assert relay_pending(sessions, send) == 0


def test_a_failed_send_keeps_the_row_with_the_error(sessions):
    (row_id,) = add_rows(sessions, 1)
    assert not send_one(sessions, Recorder(fail=True), row_id)
    with sessions() as session:
        row = session.get(OutboxRow, row_id)
        assert row.sent_at is None and row.claimed_until is None
        assert row.attempts == 1 and "broker away" in row.last_error
    assert send_one(sessions, Recorder(), row_id)


def test_two_relays_at_once_send_each_row_once(sessions):
    add_rows(sessions, 40)
    send = Recorder()
    threads = [threading.Thread(target=relay_pending, args=(sessions, send)) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    relay_pending(sessions, send)  # whatever one relay skipped as claimed by the other
    assert sorted(a[0] for a in send.sent) == sorted(f"a{i}" for i in range(40))


def test_the_pause_doubles_after_failed_passes_up_to_a_second():
    assert [next_pause(0.2, n) for n in range(5)] == [0.2, 0.2, 0.4, 0.8, MAX_BACKOFF]
    assert next_pause(3.0, 4) == 3.0  # never shorter than the configured interval


def test_a_hung_broker_keeps_the_row_and_costs_the_relay_one_deadline(sessions, hung):
    (row_id,) = add_rows(sessions, 1, TASK_RENDER_PAGE)
    send = relay_sender(make_celery_client(hung.url))
    started = time.monotonic()
    assert relay_pass(sessions, send) == (0, True)
    assert time.monotonic() - started < RELAY_DEADLINE + 0.5
    with sessions() as session:
        row = session.get(OutboxRow, row_id)
        assert row.sent_at is None and row.claimed_until is None and row.attempts == 1


def unsent(sessions) -> int:
    with sessions() as session:
        return session.scalar(sa.select(sa.func.count()).where(OutboxRow.sent_at.is_(None)))


def test_the_relay_resumes_at_once_when_a_stopped_redis_continues(sessions, private_redis):
    proc, url = private_redis
    send = relay_sender(make_celery_client(url))
    stop = threading.Event()
    relay = threading.Thread(target=run_forever, args=(sessions, send, 0.1, stop.is_set))
    relay.start()
    try:
        os.kill(proc.pid, signal.SIGSTOP)
        try:
            add_rows(sessions, 5, TASK_RENDER_PAGE)
            time.sleep(3)  # the outage: several passes fail, the relay backs off
            assert unsent(sessions) == 5
        finally:
            os.kill(proc.pid, signal.SIGCONT)
        resumed = time.monotonic()
        while unsent(sessions) and time.monotonic() - resumed < 10:
            time.sleep(0.05)
        assert unsent(sessions) == 0
        assert time.monotonic() - resumed < RELAY_DEADLINE + MAX_BACKOFF + 0.5
    finally:
        stop.set()
        relay.join(timeout=10)
    with client(url) as conn:  # more than 5 if a send given up on was delivered after all
        assert conn.llen("render") >= 5


def test_a_rows_request_id_travels_in_the_task_headers(sessions):
    with sessions.begin() as session:
        session.add(
            OutboxRow(
                task=TASK_PROCESS_IMAGES,
                args={"args": ["a1", 1], "headers": {"request_id": "req-1", "ingested_at": 1.5}},
            )
        )
    send = Recorder()
    assert relay_pending(sessions, send) == 1
    assert send.headers == [{"request_id": "req-1", "ingested_at": 1.5}]


def test_a_row_written_before_headers_existed_is_sent_without_them(sessions):
    add_rows(sessions, 1)
    send = Recorder()
    assert relay_pending(sessions, send) == 1
    assert send.headers == [None]
