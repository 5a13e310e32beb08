"""A store of its own for the webhook store tests (SQLite and PostgreSQL), so the running
stack's worker, which dispatches every enabled endpoint it finds, never sees their rows."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime

import pytest

from shared import changes, migrate, partners
from shared.db import make_engine, make_sessionmaker
from shared.models import ArticleRow, ChangeRow, utcnow
from tests.conftest import _postgres_database

SERVER_SECRET = b"s" * 32
BASE = "https://news.example"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def sessions(request, tmp_path_factory) -> Iterator:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('webhooks') / 'w.db'}"
        migrate.upgrade(url)
        engine = make_engine(url, immediate=True)
        yield make_sessionmaker(engine)
        engine.dispose()
        return
    gen = _postgres_database()
    url = next(gen)
    migrate.upgrade(url)
    engine = make_engine(url, immediate=True)
    yield make_sessionmaker(engine)
    engine.dispose()
    gen.close()


def new_partner(session, scopes: list[str]) -> str:
    name = f"p-{uuid.uuid4().hex[:10]}"
    partners.create_partner(session, name, scopes, SERVER_SECRET)
    return name


def new_article(session, when: datetime | None = None) -> ArticleRow:
    when = when or utcnow()
    guid = f"g-{uuid.uuid4().hex}"
    doc = {
        "source": "tests", "guid": guid, "language": "zh-CN",
        "versionCreated": when.isoformat(), "headlines": [{"role": "main", "value": "标题"}],
        "bodies": [{"role": "main", "value": "<p>正文</p>"}],
    }  # fmt: skip
    row = ArticleRow(
        id=uuid.uuid4().hex, source="tests", guid=guid, version=1, content_hash="0" * 64,
        doc=doc, status="published", version_created=when, first_created=when,
    )  # fmt: skip
    session.add(row)
    session.flush()
    return row


def log_change(session, row: ArticleRow, op: str, audience: str = "all") -> ChangeRow:
    doc = None if op == changes.OP_WITHDRAWN else row.doc
    return changes.append(session, row, op, audience, doc=doc, media={})
