"""Feed documents from the store: the subscription documents (every format, their
``.br``/``.gz`` siblings and the channel page) and their RFC 5005 archive pages.

``rebuild_feed`` is the worker's rebuild task body; ``rewrite_archive_pages`` is how a
withdrawal reaches the archive pages. The writers themselves are pure (render.feeds).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
from collections.abc import Iterator
from typing import NamedTuple
from urllib.parse import quote

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from render import coalesce, compress, locks, pages, view
from render.context import RenderContext
from render.feeds import WRITERS, FeedView, write_all
from shared import keys
from shared.models import ArticleRow, FeedEntry, FeedLogRow

log = logging.getLogger(__name__)


def feed_links(base: str, feed_keys: list[str], title: str) -> list[pages.FeedLink]:
    links = []
    for key in feed_keys:
        label = title if key == keys.FEED_ALL else key.split("/", 1)[1]
        links += [
            pages.FeedLink(
                f"{label} (Atom)", view.feed_url(base, key, "atom"), "application/atom+xml"
            ),
            pages.FeedLink(
                f"{label} (RSS)", view.feed_url(base, key, "rss"), "application/rss+xml"
            ),
            pages.FeedLink(
                f"{label} (JSON Feed)", view.feed_url(base, key, "json"), "application/feed+json"
            ),
        ]
    return links


def rewrite_archive_pages(ctx: RenderContext, feed_key: str, article_id: str) -> None:
    """A withdrawn article leaves the archive pages it was in as well. RFC 5005 archive
    pages are meant never to change, and are served as immutable; a withdrawal (a legal
    takedown, an error) is the exception: the origin drops it at once, and a CDN in front
    must be purged of the pages (docs/operations.md)."""
    size = ctx.settings.archive_page_size
    with _feed_lock(ctx, feed_key) as ctx:  # from here, writes check the lease
        index = _archive_index(ctx, feed_key)
        with ctx.readers() as session:
            logged = session.scalars(
                select(FeedLogRow.id).where(
                    FeedLogRow.feed_key == feed_key,
                    FeedLogRow.article_id == article_id,
                    FeedLogRow.id <= index["boundary"],
                )
            ).all()
            pages = {}
            for log_id in logged:
                # Page n holds the log's rows (n-1)*size+1 .. n*size for this feed.
                rank = session.scalar(
                    select(func.count()).where(
                        FeedLogRow.feed_key == feed_key, FeedLogRow.id <= log_id
                    )
                )
                number = (rank - 1) // size + 1
                if number not in pages:
                    pages[number] = _page_rows(ctx, session, feed_key, number)
        for number, rows in sorted(pages.items()):
            _write_feed(ctx, feed_key, rows, page=number, newer=number < index["pages"])


def newest_entries(session: Session, feed_key: str, limit: int) -> list[ArticleRow]:
    """One indexed range scan on (feed_key, sort_at): cost independent of the store's size."""
    ids = (
        session.execute(
            select(FeedEntry.article_id)
            .where(FeedEntry.feed_key == feed_key)
            .order_by(FeedEntry.sort_at.desc(), FeedEntry.article_id.desc())
            .limit(limit)
        )
        .scalars()
        .all()
    )
    if not ids:
        return []
    rows = {r.id: r for r in session.scalars(select(ArticleRow).where(ArticleRow.id.in_(ids)))}
    return [rows[i] for i in ids if i in rows]


def _put_feeds(ctx: RenderContext, docs: dict[str, bytes]) -> list[str]:
    """Write the feed files whose bytes changed (unchanged ones keep their validators for
    pollers), then their .br/.gz siblings; returns the keys written.

    The plain files go first so that a new feed is served as soon as it exists: compressing
    three ~190 KiB documents is a third of a rebuild, and an article should not wait for it.
    Until its siblings land, the feed service serves the new bytes uncompressed (it serves a
    sibling only if it decodes to the current file: services/feed/fastpath.py)."""
    written = {key: data for key, data in docs.items() if ctx.artifacts.get(key) != data}
    ctx.artifacts.put_many(written)
    # A crash between the two writes leaves a feed whose siblings are the previous version's;
    # its bytes no longer change, so they are made again here when missing or older.
    behind = {
        key: data for key, data in docs.items() if key in written or _siblings_behind(ctx, key)
    }
    ctx.artifacts.put_many(
        {
            f"{key}.{suffix}": packed
            for key, data in behind.items()
            for suffix, packed in compress.siblings(data).items()
        }
    )
    return list(written)


def _siblings_behind(ctx: RenderContext, key: str) -> bool:
    # The store's write times, not a file's: on S3 the time the writer recorded in the
    # object's metadata (Last-Modified has whole seconds, too coarse for this order).
    plain = ctx.artifacts.info(key)
    for suffix in compress.ENCODINGS:
        sibling = ctx.artifacts.info(f"{key}.{suffix}")
        if plain is None or sibling is None or sibling.mtime < plain.mtime:
            return True
    return False


def feed_title(site: str, feed_key: str) -> str:
    if feed_key == keys.FEED_ALL:
        return site
    return f"{feed_key.split('/', 1)[1]} · {site}"


class Rebuilt(NamedTuple):
    entries: int
    changed: list[str]  # the formats whose bytes changed (what WebSub tells subscribers about)


@contextlib.contextmanager
def _feed_lock(ctx: RenderContext, feed_key: str) -> Iterator[RenderContext]:
    """One writer of a feed's documents at a time: the rebuild that runs last read the
    newest state, so an older state can never land over a newer one.

    A lease (render.locks): a crashed holder's lock lapses within seconds. It is tried for
    half a second at most (LeaseBusy: the task waits in the queue, not in a worker slot).
    The context handed back writes artifacts only while the lease is held; LeaseLost after
    the block means it lapsed meanwhile and the work must be done again."""
    with locks.holding(ctx.redis, f"newsflow:lock:feed:{feed_key}") as lease:
        yield dataclasses.replace(ctx, artifacts=locks.LeasedStore(ctx.artifacts, lease))


def _archive_index_key(feed_key: str) -> str:
    return keys.archive_index_artifact(feed_key)


def _archive_index(ctx: RenderContext, feed_key: str) -> dict:
    """How many archive pages the feed has, and the feed-log id the newest one ends at."""
    stored = ctx.artifacts.get(_archive_index_key(feed_key))
    return json.loads(stored) if stored else {"pages": 0, "boundary": 0}


class _ArchivePage(NamedTuple):
    number: int
    rows: list[ArticleRow]  # newest first
    boundary: int  # the id of its newest feed-log row


def _published_newest_first(session: Session, article_ids: list[str]) -> list[ArticleRow]:
    """The published rows of these log entries, newest first, each article once."""
    newest_first = list(dict.fromkeys(reversed(article_ids)))
    # Published, not just in status "published": an article whose update is being processed
    # (or failed) is still live in its published version, and a page rewritten then must
    # keep it. A withdrawn article has no published version.
    rows = {
        r.id: r
        for r in session.scalars(select(ArticleRow).where(ArticleRow.id.in_(newest_first)))
        if r.published_version is not None
    }
    return [rows[a] for a in newest_first if a in rows]


def _page_rows(ctx: RenderContext, session: Session, feed_key: str, number: int) -> list:
    """Archive page ``number``'s rows again: the log's rows (n-1)*size+1 .. n*size."""
    size = ctx.settings.archive_page_size
    ids = session.execute(
        select(FeedLogRow.article_id)
        .where(FeedLogRow.feed_key == feed_key)
        .order_by(FeedLogRow.id)
        .offset((number - 1) * size)
        .limit(size)
    ).scalars()
    return _published_newest_first(session, list(ids))


def _filled_pages(
    ctx: RenderContext, session: Session, feed_key: str, index: dict
) -> tuple[list[_ArchivePage], _ArchivePage | None]:
    """The archive pages that have filled since the last rebuild, and, when there are any,
    the newest page written before them (it gets its ``next-archive`` link now). A page is
    the next ``archive_page_size`` rows of the feed log after the previous page's last row,
    found with one index range scan (no count)."""
    size = ctx.settings.archive_page_size
    number, boundary, filled = index["pages"], index["boundary"], []
    while True:
        ids = session.execute(
            select(FeedLogRow.id, FeedLogRow.article_id)
            .where(FeedLogRow.feed_key == feed_key, FeedLogRow.id > boundary)
            .order_by(FeedLogRow.id)
            .limit(size)
        ).all()
        if len(ids) < size:
            break
        number, boundary = number + 1, ids[-1][0]
        rows = _published_newest_first(session, [a for _, a in ids])
        filled.append(_ArchivePage(number, rows, boundary))
    before = None
    if filled and index["pages"]:
        n = index["pages"]
        before = _ArchivePage(n, _page_rows(ctx, session, feed_key, n), index["boundary"])
    return filled, before


def _write_archive_pages(
    ctx: RenderContext,
    feed_key: str,
    index: dict,
    filled: list[_ArchivePage],
    before: _ArchivePage | None,
) -> int:
    """Write the filled pages, oldest first: each page, then the page before it again with
    a ``next-archive`` link to it, then the index that counts it. Returns how many full
    pages there are.

    RFC 5005 lets an archive page link the next newer one (``next-archive``); the W3C
    validator warns about an archive page with neither that nor ``prev-archive``, which
    the oldest page always is. The next page does not exist when a page is written, so a
    page gets that one link once, when the next page fills; its entries never change."""
    pages_now = index["pages"]
    previous = before
    for page in filled:
        _write_feed(ctx, feed_key, page.rows, page=page.number)
        if previous is not None:
            _write_feed(ctx, feed_key, previous.rows, page=previous.number, newer=True)
        counted = {"pages": page.number, "boundary": page.boundary}
        ctx.artifacts.put(_archive_index_key(feed_key), json.dumps(counted).encode())
        pages_now, previous = page.number, page
    return pages_now


def _urls(base: str, feed_key: str) -> dict[str, str]:
    return {fmt: view.feed_url(base, feed_key, fmt) for fmt in WRITERS}


def _write_feed(
    ctx: RenderContext,
    feed_key: str,
    rows: list[ArticleRow],
    page: int | None,
    archived: int = 0,
    newer: bool = False,
) -> tuple[FeedView, list[str]]:
    """One feed document in every format: the subscription document (``page`` None) with a
    link to the newest of ``archived`` archive pages, or archive page ``page`` (linking the
    next newer page when ``newer``)."""
    s = ctx.settings
    base = s.public_base_url
    entries, left_out = _entry_views(rows, base)
    languages = {e.language for e in entries}
    title = feed_title(s.feed_title, feed_key)
    home = f"{base}/" if feed_key == keys.FEED_ALL else f"{base}/{quote(feed_key)}"
    key = feed_key if page is None else keys.archive_feed(feed_key, page)
    older = archived if page is None else page - 1
    fv = FeedView(
        key=key,
        title=title if page is None else f"{title} ({page})",
        description=f"{title}: the newest {s.feed_size} articles",
        language=languages.pop() if len(languages) == 1 else None,
        home_url=home,
        self_urls=_urls(base, key),
        id_authority=s.tag_authority,
        site=s.feed_title,
        base=base,
        entries=entries,
        hub_url=s.websub_hub_url if page is None else None,
        prev_archive_urls=_urls(base, keys.archive_feed(feed_key, older)) if older else None,
        current_urls=_urls(base, feed_key) if page is not None else None,
        next_archive_urls=_urls(base, keys.archive_feed(feed_key, page + 1))
        if page is not None and newer
        else None,
    )
    done = write_all(fv)
    versions = {r.id: r.published_version or r.version for r in rows}
    left_out += [
        _LeftOut(left.entry.id, versions.get(left.entry.id, 0), left.reason)
        for left in done.left_out
    ]
    docs = {keys.feed_artifact(key, fmt): data for fmt, data in done.docs.items()}
    written = set(_put_feeds(ctx, docs))
    _report_left_out(ctx, key, left_out)
    return done.feed, [fmt for fmt in WRITERS if keys.feed_artifact(key, fmt) in written]


LEFT_OUT = "left out of feed "


class _LeftOut(NamedTuple):
    article_id: str
    version: int  # the published version that could not be shown
    reason: str


def _entry_views(rows: list[ArticleRow], base: str) -> tuple[list[view.ArticleView], list]:
    """The feed's entries, from each row's published version; a row whose stored document
    cannot be read at all is left out (and reported) rather than stopping the feed."""
    entries, left_out = [], []
    for r in rows:
        version = r.published_version or r.version
        try:
            entries.append(
                view.build(
                    r.id,
                    version,
                    r.published_doc or r.doc,
                    r.media if r.published_doc is None else (r.published_media or {}),
                    r.first_created,
                    base,
                )
            )
        except Exception as exc:  # a stored value no view can be made of: recorded below
            left_out.append(_LeftOut(r.id, version, f"view: {type(exc).__name__}: {exc}"))
    return entries, left_out


def _report_left_out(ctx: RenderContext, feed_key: str, left_out: list[_LeftOut]) -> None:
    """Say on each article why a feed left it out. The article stays ``published``: its page
    is live and it may be in its other feeds; ``failed`` would say it is not out at all. The
    reason is set only while that version is the published and newest one (an update in
    progress clears it on publication), and once: the first feed to leave it out says so,
    and every later rebuild that meets it again reads and writes nothing more."""
    for item in left_out:
        log.warning("feed %s left out article %s: %s", feed_key, item.article_id, item.reason)
    reasons = {i.article_id: (i.version, f"{LEFT_OUT}{feed_key}: {i.reason}"[:2000])
               for i in left_out}  # fmt: skip

    def stale(row: ArticleRow | None) -> bool:
        if row is None or row.id not in reasons:
            return False
        version = reasons[row.id][0]
        return (
            row.status == "published"
            and row.published_version == version == row.version
            and not (row.status_reason or "").startswith(LEFT_OUT)
        )

    # Read first: a rebuild that meets the row again takes no write lock (SQLite).
    with ctx.readers() as session:
        if not any(stale(session.get(ArticleRow, a)) for a in reasons):
            return
    with ctx.sessions.begin() as session:
        for article_id in reasons:
            row = session.get(ArticleRow, article_id)
            if stale(row):
                row.status_reason = reasons[article_id][1]


def rebuild_feed(ctx: RenderContext, feed_key: str) -> Rebuilt:
    """Every format of one feed and its channel page, from the newest entries."""
    s = ctx.settings
    base = s.public_base_url
    with _feed_lock(ctx, feed_key) as ctx:  # from here, writes check the lease
        coalesce.begin_rebuild(ctx.redis, feed_key)  # before reading: see render.coalesce
        index = _archive_index(ctx, feed_key)
        # Read everything first and let the session go: the writes below (rendering,
        # compression, fsync) need no database.
        with ctx.readers() as session:
            rows = newest_entries(session, feed_key, s.feed_size)
            filled, before = _filled_pages(ctx, session, feed_key, index)
        archived = _write_archive_pages(ctx, feed_key, index, filled, before)
        fv, changed = _write_feed(ctx, feed_key, rows, page=None, archived=archived)
        entries, title = fv.entries, fv.title
        links = feed_links(base, [feed_key], title)
        page = pages.render_channel(ctx.jinja, title, entries, links, base, s.feed_title)
        ctx.artifacts.put(keys.channel_page_artifact(feed_key), page.encode("utf-8"))
    return Rebuilt(len(entries), changed)
