"""Which articles an archive page lists when it is written again: every article with a
published version, whatever its current status (an update in progress, a failed update)."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from render import feedbuild
from shared import migrate
from shared.db import make_engine, make_sessionmaker
from shared.models import ArticleRow, FeedLogRow

WHEN = datetime(2018, 1, 1, tzinfo=UTC)


def row(article_id: str, status: str, published_version: int | None) -> ArticleRow:
    return ArticleRow(
        id=article_id, source="tests", guid=article_id, version=2, content_hash="x",
        doc={}, status=status, media={}, version_created=WHEN, first_created=WHEN,
        published_version=published_version,
    )  # fmt: skip


@pytest.fixture
def sessions(tmp_path):
    url = f"sqlite:///{tmp_path / 'n.db'}"
    migrate.upgrade(url)
    return make_sessionmaker(make_engine(url))


def test_a_page_rewritten_during_an_update_keeps_the_article(sessions):
    with sessions.begin() as session:
        session.add_all([
            row("a", "processing", 1),  # v2 being made; v1 is what readers have
            row("b", "failed", 1),  # v2 failed; v1 stays live
            row("c", "published", 2),
            row("d", "withdrawn", None),
        ])  # fmt: skip
        session.flush()
        session.add_all(FeedLogRow(feed_key="all", article_id=a, version=1) for a in "abcd")
    ctx = SimpleNamespace(settings=SimpleNamespace(archive_page_size=4))
    with sessions() as session:
        rows = feedbuild._page_rows(ctx, session, "all", 1)
    assert [r.id for r in rows] == ["c", "b", "a"]  # newest first; the withdrawn one gone
