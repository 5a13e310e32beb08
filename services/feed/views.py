"""Public URLs: article and channel pages, media, health. These URLs never change.

Feeds (``/feeds/...``) are answered by ``feed.fastpath`` in front of this app; a feed that does
not exist falls through to here and gets the JSON 404 (and a write method the JSON 405).
A request path is mapped to its artifact by ``shared.keys`` as it is, never cleaned up first, so
an odd spelling of a name is no page rather than another name's page.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    jsonify,
    render_template,
    request,
)
from sqlalchemy import select

from feed.context import FeedContext
from shared import health, keys
from shared.models import ArticleRow

bp = Blueprint("feed", __name__, template_folder="templates")

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
    if not article_id.isascii() or not article_id.isalnum() or len(article_id) > 32:
        abort(404)
    # The store, not the page file, says whether the article is withdrawn: the file goes
    # only when the worker's withdrawal step runs (and a replica may still cache it), the
    # status changes when the withdrawal is accepted.
    with ctx().sessions() as session:
        status = session.scalar(select(ArticleRow.status).where(ArticleRow.id == article_id))
    if status == "withdrawn":
        return gone()
    return serve(keys.page_artifact(article_id), HTML, max_age=60)


def gone() -> Response:
    """410 (RFC 9110 15.5.11) as a page in the site's style: a reader who follows an old
    link learns the article was withdrawn, with the way home. Nothing of the article is
    shown: a withdrawal may be a legal takedown."""
    s = ctx().settings
    html = render_template("gone.html", site=s.feed_title, base=s.public_base_url)
    resp = Response(html, status=410, content_type=HTML)
    resp.cache_control.public = True
    resp.cache_control.max_age = 60
    resp.headers["X-Content-Type-Options"] = "nosniff"
    return resp


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
    # Served only while a live article shows the set: a withdrawn article's pictures stop
    # (unless another live article shows them too), a held one's have not started.
    if not ctx().live_media.is_live(set_key):
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
