"""A feed with an entry that cannot be written is written without it: the entry is left out of
every format and named with the reason, and the feed goes on. The fast path writes each format
once; entries are written one by one only after a writer raised."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import feedparser
import pytest

from render.feedbuild import _entry_views
from render.feeds import WRITERS, FeedView, write_all
from shared.models import ArticleRow
from tests.render.test_feed_writers import BASE, MEDIA, seed_views


def a_feed() -> FeedView:
    return FeedView(
        key="all",
        title="newsflow",
        description="all articles",
        language=None,
        home_url=f"{BASE}/",
        self_urls={fmt: f"{BASE}/feeds/all.{fmt}" for fmt in WRITERS},
        id_authority="news.example.org,2026",
        site="newsflow",
        base=BASE,
        entries=seed_views(),
    )


class Counting:
    """The real writers, counted; one of them raises for one article (a writer bug no
    cleaning foresaw), as a real writer raises on input it cannot take."""

    def __init__(self, failing_id: str | None = None, failing_fmt: str = "atom") -> None:
        self.calls = {fmt: 0 for fmt in WRITERS}
        self.failing_id, self.failing_fmt = failing_id, failing_fmt

    def writers(self):
        return {fmt: self._wrap(fmt, write) for fmt, write in WRITERS.items()}

    def _wrap(self, fmt, write):
        def counted(fv):
            self.calls[fmt] += 1
            if fmt == self.failing_fmt and any(e.id == self.failing_id for e in fv.entries):
                raise ValueError("All strings must be XML compatible")
            return write(fv)

        return counted


def test_a_feed_without_trouble_is_written_once_per_format():
    counting = Counting()
    done = write_all(a_feed(), counting.writers())
    assert counting.calls == {"rss": 1, "atom": 1, "json": 1}
    assert done.left_out == [] and len(done.feed.entries) == 4


def test_an_entry_one_writer_cannot_write_is_left_out_of_every_format():
    fv = a_feed()
    bad = fv.entries[1]
    done = write_all(fv, Counting(bad.id).writers())
    assert [(left.entry.id, left.reason) for left in done.left_out] == [
        (bad.id, "atom: ValueError: All strings must be XML compatible")
    ]
    for fmt in ("rss", "atom"):
        ids = [e.id for e in feedparser.parse(done.docs[fmt]).entries]
        assert len(ids) == 3 and not any(bad.id in i for i in ids)
    assert bad.id not in done.docs["json"].decode()
    assert [e.id for e in done.feed.entries] == [e.id for e in fv.entries if e.id != bad.id]


def test_an_error_no_single_entry_causes_is_raised():
    class Broken(Counting):
        def _wrap(self, fmt, write):
            def broken(fv):
                if fmt == "json" and len(fv.entries) > 1:
                    raise RuntimeError("feed-level failure")
                return write(fv)

            return broken

    with pytest.raises(RuntimeError, match="feed-level"):
        write_all(a_feed(), Broken().writers())


def row(article_id: str, doc, version: int = 1) -> ArticleRow:
    return ArticleRow(
        id=article_id,
        version=version,
        published_version=version,
        doc=doc,
        published_doc=doc,
        media=MEDIA,
        published_media=MEDIA,
        first_created=datetime(2017, 12, 4, tzinfo=UTC),
    )


@pytest.mark.parametrize("doc", [["not", "an", "object"], "a string", 7])
def test_a_stored_document_no_view_can_be_made_of_is_left_out_with_the_reason(doc):
    good = seed_views()[0]
    good_doc = {"headlines": [{"value": good.headline}], "bodies": [{"value": "<p>x</p>"}],
                "language": "zh-CN", "versionCreated": "2017-12-04T00:00:00+08:00"}  # fmt: skip
    entries, left_out = _entry_views([row("a" * 32, doc, 3), row("b" * 32, good_doc)], BASE)
    assert [e.id for e in entries] == ["b" * 32]
    assert [(item.article_id, item.version) for item in left_out] == [("a" * 32, 3)]
    assert left_out[0].reason.startswith("view: ")


def test_left_out_entries_keep_the_rest_of_the_feed_in_order():
    fv = a_feed()
    bad = fv.entries[0]
    done = write_all(dataclasses.replace(fv), Counting(bad.id, "rss").writers())
    assert [e.id for e in done.feed.entries] == [e.id for e in fv.entries[1:]]
