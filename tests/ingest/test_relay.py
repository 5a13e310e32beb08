"""The outbox relay against a real store: each row goes out once; a failed send keeps it."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from ingest.relay import relay_pending, send_one
from shared.db import make_engine, make_sessionmaker
from shared.models import OutboxRow


@pytest.fixture
def sessions(database_url):
    engine = make_engine(database_url, immediate=True)
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM outbox"))
    yield make_sessionmaker(engine)
    engine.dispose()


def add_rows(sessions, n: int) -> list[int]:
    with sessions.begin() as session:
        rows = [OutboxRow(task="t", args={"args": [f"a{i}", 1]}) for i in range(n)]
        session.add_all(rows)
        session.flush()
        return [r.id for r in rows]


class Recorder:
    """Stands in for the broker (the world outside the relay), recording what it is given."""

    def __init__(self, fail: bool = False) -> None:
        self.sent: list[list] = []
        self.fail = fail
        self.lock = threading.Lock()

    def __call__(self, task, args, eta=None):
        if self.fail:
            raise ConnectionError("broker away")
        with self.lock:
            self.sent.append(args)


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
