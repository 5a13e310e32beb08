"""The worker's steps on the store and the artifacts; tasks.py wraps each in a Celery task.

Each step is keyed by (article id, version): a step for a version that is no longer the
newest does nothing, and running a step twice writes the same artifacts again.
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import NamedTuple

from sqlalchemy import delete, select, text
from sqlalchemy.orm import Session

from render import feedbuild, images, pages, view
from render.context import RenderContext
from render.fetch import FetchRefused
from shared import changes, keys, mediarefs
from shared.models import ArticleRow, FeedEntry, FeedLogRow, utcnow

log = logging.getLogger(__name__)


def current(session: Session, article_id: str, version: int) -> ArticleRow | None:
    """The row if ``version`` is still the newest one, else None (a newer version took over)."""
    row = session.get(ArticleRow, article_id)
    if row is None or row.version != version:
        return None
    return row


def mark_failed(ctx: RenderContext, article_id: str, version: int, reason: str) -> None:
    with ctx.sessions.begin() as session:
        row = current(session, article_id, version)
        if row is not None:
            row.status = "failed"
            row.status_reason = reason[:2000]


def _source_bytes(ctx: RenderContext, uri: str) -> bytes:
    sha = keys.parse_media_uri(uri)
    if sha:
        data = ctx.artifacts.get(keys.source_media_artifact(sha))
        if data is None:
            raise FetchRefused(f"no uploaded file {uri}; upload it with POST /v1/media first")
        return data
    return ctx.fetcher.get(uri)


def _store_outputs(ctx: RenderContext, key: str, outputs: list[images.Output]) -> list[dict]:
    renditions = []
    for out in outputs:
        href = f"media/{key}/{out.name}"
        ctx.artifacts.put(href, out.data)
        renditions.append(
            {
                "name": out.name.rsplit(".", 1)[0],
                "href": href,
                "contenttype": out.contenttype,
                "width": out.width,
                "height": out.height,
                "sizeinbytes": len(out.data),
            }
        )
    return renditions


def _with_avif(ctx: RenderContext, manifest: dict) -> dict:
    """The set's manifest with AVIF renditions added (made once per set, content-addressed)."""
    if any(r["contenttype"] == "image/avif" for r in manifest["renditions"]):
        return manifest
    source = ctx.artifacts.get(keys.source_media_artifact(manifest.get("source", "")))
    if source is None:
        return manifest
    made = images.avif_outputs(source, ctx.settings.max_image_pixels)
    if not made:
        return manifest
    manifest = {
        **manifest,
        "renditions": manifest["renditions"] + _store_outputs(ctx, manifest["set"], made),
    }
    ctx.artifacts.put(f"media/{manifest['set']}/manifest.json", json.dumps(manifest).encode())
    return manifest


def add_avif(ctx: RenderContext, article_id: str, version: int) -> bool:
    """After publication: AVIF for every picture of the article, then its page again."""
    with ctx.readers() as session:
        row = current(session, article_id, version)
        if row is None or row.published_version != version:
            return False
        media = dict(row.media or {})
    updated = {k: _with_avif(ctx, m) if m.get("status") == "ok" else m for k, m in media.items()}
    if updated == media:
        return False
    with ctx.sessions.begin() as session:
        row = current(session, article_id, version)
        if row is None:
            return False
        row.media = updated
        if row.published_version == version:
            row.published_media = updated
    _render_page(ctx, article_id, version)
    return True


def _rendition_set(ctx: RenderContext, source: bytes) -> dict:
    """Content-addressed: a set already made for these bytes is read back, not decoded again."""
    key = images.set_key(source)
    manifest_key = f"media/{key}/manifest.json"
    stored = ctx.artifacts.get(manifest_key)
    if stored is not None:
        return json.loads(stored)
    made = images.render_set(source, ctx.settings.max_image_pixels)
    # Kept for the deferred AVIF step (an uploaded source is stored already; a fetched one
    # is not fetched twice).
    sha = hashlib.sha256(source).hexdigest()
    if ctx.artifacts.info(keys.source_media_artifact(sha)) is None:
        ctx.artifacts.put(keys.source_media_artifact(sha), source)
    manifest = {
        "status": "ok",
        "set": key,
        "source": sha,
        "width": made.width,
        "height": made.height,
        "sourceType": made.source_type,
        "placeholder": made.placeholder,
        "renditions": _store_outputs(ctx, key, made.outputs),
    }
    # Written last: its presence means the whole set is there.
    ctx.artifacts.put(manifest_key, json.dumps(manifest).encode())
    return manifest


def process_images(ctx: RenderContext, article_id: str, version: int) -> dict | None:
    """Make every picture's renditions; a refused picture is recorded, not fatal. Returns
    the article's media by association key ({} for an article without pictures), or None
    when a newer version took over."""
    with ctx.sessions.begin() as session:
        row = current(session, article_id, version)
        if row is None:
            return None
        if row.published_version != version:  # a retry after publication keeps "published"
            row.status = "processing"
        doc = row.doc
    media: dict[str, dict] = {}
    for name, assoc in doc.get("associations", {}).items():
        try:
            media[name] = _rendition_set(ctx, _source_bytes(ctx, assoc["uri"]))
        except (images.ImageRefused, FetchRefused) as exc:
            media[name] = {"status": "failed", "reason": str(exc)}
            log.warning("article %s image %s refused: %s", article_id, name, exc)
    with ctx.sessions.begin() as session:
        row = current(session, article_id, version)
        if row is None:
            return None
        row.media = media
    return media


def _render_page(ctx: RenderContext, article_id: str, version: int) -> list[str] | None:
    """Write the article page; returns the article's feed keys (None if superseded)."""
    base = ctx.settings.public_base_url
    with ctx.readers() as session:
        row = current(session, article_id, version)
        if row is None:
            return None
        article = view.build(row.id, row.version, row.doc, row.media, row.first_created, base)
        new_keys = keys.feed_keys_for(row.doc)
    html = pages.render_article(
        ctx.jinja,
        article,
        base,
        feedbuild.feed_links(base, new_keys, ctx.settings.feed_title),
        ctx.settings.feed_title,
    )
    ctx.artifacts.put(keys.page_artifact(article_id), html.encode("utf-8"))
    return new_keys


def _serialize_log_appends(session: Session) -> None:
    """Archive pages are cut at feed-log id boundaries, so ids must become visible in id
    order. On PostgreSQL two publishing transactions could commit ids 101 before 100, and a
    rebuild in between would cut a page past 100, leaving it out of every page; appenders
    take this lock first (it conflicts only with itself and writers of feed_log, never with
    readers), so ids are drawn and committed one transaction at a time. SQLite already has
    one writer at a time (BEGIN IMMEDIATE)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("LOCK TABLE feed_log IN SHARE ROW EXCLUSIVE MODE"))


class Published(NamedTuple):
    feeds: list[str]  # to rebuild
    pictures: bool  # any picture made, so AVIF renditions can follow
    change: int | None = None  # the change log row appended, if any
    held: bool = False  # held by its embargo: nothing public was written


def _held(ctx: RenderContext, article_id: str, version: int) -> bool:
    with ctx.readers() as session:
        row = current(session, article_id, version)
        embargo = row.embargoed_until if row is not None else None
    return embargo is not None and embargo > utcnow()


def hold(ctx: RenderContext, article_id: str, version: int) -> Published:
    """A version whose embargo lies ahead: nothing public is written (no page, no feed
    entry, no feed log row), the article is ``embargoed`` until the scheduler releases it
    (newsflow.scheduler sends this step again), and partners with ``embargo:read`` get the
    version flagged from the change log. A public earlier version stays as it is."""
    with ctx.sessions.begin() as session:
        row = current(session, article_id, version)
        if row is None:
            return Published([], False)
        if row.published_version != version:
            row.status = "embargoed"
            row.status_reason = f"embargoed until {row.embargoed_until.isoformat()}"
        last = changes.last_change(session, article_id)
        if last is not None and last.version == version:
            return Published([], False, held=True)  # a re-run: logged already
        op = changes.OP_UPDATED if changes.was_public(session, article_id) else changes.OP_PUBLISHED
        change = changes.append(
            session, row, op, changes.AUDIENCE_EMBARGO, doc=row.doc, media=row.media
        )
        return Published([], False, change.seq, held=True)


def _public_op(session: Session, article_id: str) -> str:
    last = changes.last_change(session, article_id)
    held = last is not None and last.audience == changes.AUDIENCE_EMBARGO
    if held and last.op != changes.OP_WITHDRAWN:
        return changes.OP_RELEASED
    return changes.OP_UPDATED if changes.was_public(session, article_id) else changes.OP_PUBLISHED


def publish_page(ctx: RenderContext, article_id: str, version: int) -> Published:
    """Render the page, then publish: feed memberships change in one transaction, and the
    change log gets the publication (or the update, or the embargo's release)."""
    if _held(ctx, article_id, version):
        return hold(ctx, article_id, version)
    new_keys = _render_page(ctx, article_id, version)
    if new_keys is None:
        return Published([], False)
    with ctx.sessions.begin() as session:
        row = current(session, article_id, version)
        if row is None:
            return Published([], False)
        pictures = any(m.get("status") == "ok" for m in (row.media or {}).values())
        old_keys = set(
            session.scalars(select(FeedEntry.feed_key).where(FeedEntry.article_id == article_id))
        )
        session.execute(delete(FeedEntry).where(FeedEntry.article_id == article_id))
        session.add_all(
            FeedEntry(feed_key=k, article_id=article_id, sort_at=row.first_created)
            for k in new_keys
        )
        change = None
        if (row.published_version or 0) < version:  # a re-run of this step logs nothing
            _serialize_log_appends(session)
            session.add_all(
                FeedLogRow(feed_key=k, article_id=article_id, version=version) for k in new_keys
            )
            # After the feed log's lock, always in this order (no deadlock between the two).
            op = _public_op(session, article_id)
            change = changes.append(session, row, op, doc=row.doc, media=row.media).seq
        row.status = "published"
        row.status_reason = None
        row.published_version = version
        row.published_doc, row.published_media = row.doc, row.media
        mediarefs.replace(session, article_id, row.media)  # its pictures are served from now
        row.published_at = row.published_at or utcnow()
    return Published(sorted(old_keys | set(new_keys)), pictures, change)


def withdraw(ctx: RenderContext, article_id: str, version: int) -> list[str]:
    """Take the article out of its feeds; returns every feed it is or ever was in (the feed
    log keeps them, so a retry after this committed still finds them all). Partners who saw
    it get a tombstone in the change log: everybody if it was public, only ``embargo:read``
    partners if it was only ever seen under embargo."""
    with ctx.sessions.begin() as session:
        row = current(session, article_id, version)
        if row is None:
            return []
        feed_keys = set(
            session.scalars(select(FeedEntry.feed_key).where(FeedEntry.article_id == article_id))
        ) | set(
            session.scalars(
                select(FeedLogRow.feed_key).where(FeedLogRow.article_id == article_id).distinct()
            )
        )
        session.execute(delete(FeedEntry).where(FeedEntry.article_id == article_id))
        last = changes.last_change(session, article_id)
        if last is not None and last.op != changes.OP_WITHDRAWN:
            audience = (
                changes.AUDIENCE_ALL
                if changes.was_public(session, article_id)
                else changes.AUDIENCE_EMBARGO
            )
            changes.append(session, row, changes.OP_WITHDRAWN, audience)
        row.status = "withdrawn"
        row.published_version = None
        row.published_doc = row.published_media = None
        mediarefs.drop(session, article_id)  # its pictures stop being served, unless shared
    ctx.artifacts.delete(keys.page_artifact(article_id))
    return sorted(feed_keys)


def withdraw_from_archives(ctx: RenderContext, article_id: str, feed_keys: list[str]) -> None:
    for feed_key in feed_keys:
        feedbuild.rewrite_archive_pages(ctx, feed_key, article_id)
