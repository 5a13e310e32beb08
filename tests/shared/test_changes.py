"""shared.changes: the change log a partner walks never skips a row, however appends commit.

The writers hold their transaction open for a random moment after appending, so on
PostgreSQL a later sequence value would commit before an earlier one without the append lock;
a reader walking concurrently would then step past the earlier row for good."""

from __future__ import annotations

import random
import threading
import time
import uuid

import sqlalchemy as sa

from shared import changes
from shared.db import make_engine, make_sessionmaker
from shared.models import ArticleRow

WRITERS = 6
APPENDS = 30
PAGE = 37


def row(region: str) -> ArticleRow:
    doc = {"places": [{"name": region}]}
    return ArticleRow(id=uuid.uuid4().hex, version=1, source="tests", doc=doc)


def clear(engine) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM change_places"))
        conn.execute(sa.text("DELETE FROM changes"))


def test_a_concurrent_reader_sees_every_change_once_in_order(engine, database_url):
    clear(engine)
    writes = make_sessionmaker(make_engine(database_url, immediate=True))
    reads = make_sessionmaker(engine)
    done = threading.Event()
    failures: list[BaseException] = []

    def writer(n: int) -> None:
        rng = random.Random(n)
        try:
            for _ in range(APPENDS):
                with writes.begin() as session:
                    changes.append(session, row(f"r{n % 3}"), changes.OP_PUBLISHED, doc={})
                    time.sleep(rng.uniform(0, 0.01))  # commit late, out of order
        except BaseException as exc:  # surfaced below
            failures.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(WRITERS)]
    for t in threads:
        t.start()
    seen: list[int] = []
    cursor = 0
    while True:
        finished = done.is_set()
        with reads() as session:
            page = changes.read(session, cursor, PAGE)
        seen += [c.seq for c in page.changes]
        cursor = page.last_seq
        if finished and not page.has_more:
            break
        if not any(t.is_alive() for t in threads):
            done.set()
    assert not failures, failures
    with reads() as session:
        stored = list(session.scalars(sa.select(sa.text("seq")).select_from(sa.text("changes"))))
    assert len(stored) == WRITERS * APPENDS
    assert seen == sorted(stored)  # each once, in order: no gap, no duplicate


def test_a_region_filter_reads_only_that_region(engine):
    clear(engine)
    sessions = make_sessionmaker(engine)
    with sessions.begin() as session:
        for region in ("北京", "上海", "北京"):
            changes.append(session, row(region), changes.OP_PUBLISHED, doc=None)
    with sessions() as session:
        page = changes.read(session, 0, 10, region="北京")
    assert len(page.changes) == 2
    assert not page.has_more


def test_embargoed_changes_are_only_for_embargo_readers(engine):
    clear(engine)
    sessions = make_sessionmaker(engine)
    with sessions.begin() as session:
        held = row("x")
        changes.append(session, held, changes.OP_PUBLISHED, changes.AUDIENCE_EMBARGO, doc={})
        changes.append(session, held, changes.OP_RELEASED, doc={})
    with sessions() as session:
        public = [c.op for c in changes.read(session, 0, 10).changes]
        flagged = [c.op for c in changes.read(session, 0, 10, embargo=True).changes]
    assert public == ["released"]
    assert flagged == ["published", "released"]


def test_a_page_reports_more_and_its_last_position(engine):
    clear(engine)
    sessions = make_sessionmaker(engine)
    with sessions.begin() as session:
        for _ in range(5):
            changes.append(session, row("x"), changes.OP_PUBLISHED, doc={})
    with sessions() as session:
        first = changes.read(session, 0, 3)
        second = changes.read(session, first.last_seq, 3)
        empty = changes.read(session, second.last_seq, 3)
    assert (len(first.changes), first.has_more) == (3, True)
    assert (len(second.changes), second.has_more) == (2, False)
    assert (empty.changes, empty.last_seq) == ([], second.last_seq)


def test_an_unknown_operation_is_refused(engine):
    sessions = make_sessionmaker(engine)
    with sessions() as session:
        try:
            changes.append(session, row("x"), "deleted")
        except ValueError as exc:
            assert "deleted" in str(exc)
        else:
            raise AssertionError("an unknown operation was appended")
