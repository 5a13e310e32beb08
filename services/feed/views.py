"""Public URLs: article and channel pages, media, health. These URLs never change.

Feeds (``/feeds/...``) are answered by ``feed.fastpath`` in front of this app; a feed that does
not exist falls through to here and gets the JSON 404 (and a write method the JSON 405).
A request path is mapped to its artifact by ``shared.keys`` as it is, never cleaned up first, so
an odd spelling of a name is no page rather than another name's page.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, Flask, Response, abort, current_app, jsonify, request

from feed.context import FeedContext
from shared import health, keys
from shared.models import ArticleRow

bp = Blueprint("feed", __name__)

MEDIA_TYPES = {
    "jpg": "image/jpeg",
    "png": "image/png",
    "webp": "image/webp",
    "avif": "image/avif",
}
HTML = "text/html; charset=utf-8"


def ctx() -> FeedContext:
    return current_app.extensions["newsflow"]


def serve(key: str, content_type: str, max_age: int) -> Response:
    served = ctx().artifacts.get(key)
    if served is None:
        abort(404)
    resp = Response(served.data, content_type=content_type)
    resp.set_etag(served.etag)
    resp.last_modified = datetime.fromtimestamp(int(served.mtime), UTC)
    resp.cache_control.public = True
    resp.cache_control.max_age = max_age
    resp.headers["X-Content-Type-Options"] = "nosniff"
    return resp.make_conditional(request)


@bp.get("/articles/<article_id>")
def article(article_id: str):
    if not article_id.isalnum() or len(article_id) > 32:
        abort(404)
    if ctx().artifacts.get(keys.page_artifact(article_id)) is None:
        with ctx().sessions() as session:
            row = session.get(ArticleRow, article_id)
            if row is not None and row.status == "withdrawn":
                abort(410)
    return serve(keys.page_artifact(article_id), HTML, max_age=60)


@bp.get("/")
def home():
    return serve(keys.channel_page_artifact(keys.FEED_ALL), HTML, max_age=60)


@bp.get("/<any(region, source, channel):kind>/<name>")
def channel(kind: str, name: str):
    key = keys.channel_page_for(kind, name)
    if key is None:
        abort(404)
    return serve(key, HTML, max_age=60)


@bp.get("/feeds/<path:rest>")
def feed(rest: str):
    """Only a feed the fast path did not find reaches here: a JSON 404 for GET, and the route
    makes a write method a 405 with ``Allow`` (RFC 9110 15.5.6) rather than a 404."""
    abort(404)


def _media_name(text: str) -> bool:
    # Rendition sets are sha256 hex, names like "w640" or "w640_2x" (render.images).
    return 0 < len(text) <= 64 and text.isascii() and text.replace("_", "").isalnum()


@bp.get("/media/<set_key>/<name>.<ext>")
def media(set_key: str, name: str, ext: str):
    if ext not in MEDIA_TYPES or not _media_name(set_key) or not _media_name(name):
        abort(404)
    # Content-addressed: a URL's bytes never change, so caches may keep them for a year.
    resp = serve(f"media/{set_key}/{name}.{ext}", MEDIA_TYPES[ext], max_age=31536000)
    resp.cache_control.immutable = True
    return resp


@bp.get("/healthz")
def healthz():
    body, code = health.report(ctx().engine, ctx().settings.redis_url)
    return jsonify(body), code


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
