"""The partner pull API: every change in order, as IPTC ninjs 3.1 items.

``GET /v1/partner/items`` walks the change log (shared.changes) from an opaque cursor
(feed.cursors): the same cursor always names the same position, so a client that stores the
``next`` cursor only after it has stored a page's items misses nothing and, if it crashes in
between, sees the same page again. ``GET /v1/partner/items/<id>`` is one item's current
version, or its history with ``?versions=all``.

Each answer is one JSON document with a weak ETag over its bytes (RFC 9110 8.8.1; weak,
because the gzip and identity forms share it) and answers ``If-None-Match`` with 304; it is
gzipped when the client accepts it. Answers differ per partner (scopes), so they are
``private`` and vary on ``Authorization``.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime

from flask import Blueprint, Flask, Response, current_app, request
from isal import igzip
from sqlalchemy import select
from sqlalchemy.orm import Session

from feed import auth, cursors
from feed.context import FeedContext
from shared import changes, ninjs
from shared.errors import Problem, ProblemError
from shared.keysecret import secret_bytes
from shared.models import ArticleRow, ChangeRow
from shared.partners import SCOPE_EMBARGO_READ
from shared.schema import UNFIT

bp = Blueprint("partner", __name__)

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
NAME_MAX = 300  # as long as a feed name may be (shared.keys)
GZIP_MIN_BYTES = 1024  # below a packet, compressing saves nothing
_ID = re.compile(r"[0-9a-f]{1,32}")


def ctx() -> FeedContext:
    return current_app.extensions["newsflow"]


def _bad(code: str, detail: str, field: str) -> ProblemError:
    return ProblemError(Problem(code, detail, field), 400)


def _limit() -> int:
    raw = request.args.get("limit")
    if raw is None:
        return DEFAULT_LIMIT
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw[:6]) <= MAX_LIMIT:
        raise _bad("invalid_parameter", f"limit must be an integer from 1 to {MAX_LIMIT}", "limit")
    return int(raw)


def _name(field: str) -> str | None:
    value = request.args.get(field)
    if value is None:
        return None
    if not value or len(value) > NAME_MAX or UNFIT.search(value) or not value.isprintable():
        raise _bad(
            "invalid_parameter",
            f"{field} must be a name of at most {NAME_MAX} printable characters",
            field,
        )
    return value


def _since() -> datetime | None:
    raw = request.args.get("since")
    if raw is None:
        return None
    try:
        moment = datetime.fromisoformat(raw[:64])
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None or len(raw) > 64:
        raise _bad(
            "invalid_parameter",
            "since must be an RFC 3339 time with an offset, e.g. 2026-11-27T08:00:00Z",
            "since",
        )
    return moment


def _filters(region: str | None, source: str | None) -> str:
    # What a cursor is bound to besides the partner: the filters, canonical.
    return json.dumps([region, source], ensure_ascii=True)


def _tombstone_guids(session: Session, rows: list[ChangeRow]) -> dict[str, str]:
    ids = {r.article_id for r in rows if r.op == changes.OP_WITHDRAWN}
    if not ids:
        return {}
    found = session.execute(select(ArticleRow.id, ArticleRow.guid).where(ArticleRow.id.in_(ids)))
    return dict(found.all())


def _item(row: ChangeRow, guids: dict[str, str], base: str) -> dict:
    if row.op == changes.OP_WITHDRAWN:
        return ninjs.tombstone(
            row.article_id, row.version, row.at, row.source, guids.get(row.article_id, "")
        )
    page = row.audience == changes.AUDIENCE_ALL
    return ninjs.item(row.article_id, row.version, row.doc or {}, row.media, base, page=page)


def _meta(row: ChangeRow) -> dict:
    return {
        "sequence": row.seq,
        "operation": row.op,
        "uri": ninjs.item_uri(row.article_id),
        "version": row.version,
        "embargoed": row.audience == changes.AUDIENCE_EMBARGO,
        "at": row.at.isoformat(),
    }


def _answer(body: dict, headers: dict[str, str] | None = None) -> Response:
    data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    etag = hashlib.sha256(data).hexdigest()[:32]
    if request.if_none_match.contains_weak(etag):
        resp = Response(status=304)
    else:
        resp = Response(data, content_type="application/json; charset=utf-8")
        if len(data) >= GZIP_MIN_BYTES and request.accept_encodings["gzip"] > 0:
            resp.set_data(igzip.compress(data, 1))
            resp.headers["Content-Encoding"] = "gzip"
    resp.set_etag(etag, weak=True)
    resp.headers["Cache-Control"] = "private, no-cache"
    resp.vary.update(("Accept-Encoding", "Authorization"))
    resp.headers.update(headers or {})
    return resp


@bp.get("/v1/partner/items")
def items():
    who = auth.principal()
    embargo = who.may(SCOPE_EMBARGO_READ)
    limit, region, source, since = _limit(), _name("region"), _name("source"), _since()
    cursor = request.args.get("cursor") or None
    if cursor is not None and since is not None:
        raise _bad("invalid_parameter", "give either cursor or since, not both", "since")
    secret, scope = secret_bytes(ctx().settings), _filters(region, source)
    try:
        after = cursors.decode(secret, who.partner_id, scope, cursor) if cursor else 0
    except cursors.BadCursor as exc:
        raise _bad("bad_cursor", str(exc), "cursor") from None
    base = ctx().settings.public_base_url
    with ctx().sessions() as session:
        if since is not None:
            after = changes.seq_before(session, since)
        page = changes.read(session, after, limit, embargo=embargo, source=source, region=region)
        guids = _tombstone_guids(session, page.changes)
        body = {
            "items": [_item(row, guids, base) for row in page.changes],
            "changes": [_meta(row) for row in page.changes],
            "next": cursors.encode(secret, who.partner_id, scope, page.last_seq),
            "hasMore": page.has_more,
        }
    return _answer(body)


def _current(session: Session, row: ChangeRow, base: str) -> dict:
    """The newest change's item; for a live version its pictures as they are now (AVIF
    renditions are added after publication)."""
    if row.op != changes.OP_WITHDRAWN and row.audience == changes.AUDIENCE_ALL:
        article = session.get(ArticleRow, row.article_id)
        if article is not None and article.published_version == row.version:
            return ninjs.item(
                row.article_id, row.version, article.published_doc or row.doc or {},
                article.published_media, base,
            )  # fmt: skip
    return _item(row, _tombstone_guids(session, [row]), base)


@bp.get("/v1/partner/items/<article_id>")
def item(article_id: str):
    who = auth.principal()
    versions = request.args.get("versions")
    if versions not in (None, "all"):
        raise _bad("invalid_parameter", "versions may only be `all`", "versions")
    missing = ProblemError(Problem("not_found", f"no item with id {article_id[:40]!r}"), 404)
    if not _ID.fullmatch(article_id):
        raise missing
    base = ctx().settings.public_base_url
    with ctx().sessions() as session:
        rows = changes.history(session, article_id, embargo=who.may(SCOPE_EMBARGO_READ))
        if not rows:
            raise missing
        if versions == "all":
            guids = _tombstone_guids(session, rows)
            return _answer(
                {
                    "items": [_item(row, guids, base) for row in rows],
                    "changes": [_meta(row) for row in rows],
                }
            )
        newest = rows[-1]
        return _answer(
            _current(session, newest, base),
            {"Newsflow-Sequence": str(newest.seq), "Newsflow-Operation": newest.op},
        )


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
