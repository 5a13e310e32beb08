"""The write API: ``/v1/articles``, ``/v1/media``, ``/v1/schema`` and ``/healthz``."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime

from flask import Blueprint, Flask, current_app, jsonify, request, url_for

from ingest import auth
from ingest.context import IngestContext
from ingest.errors import too_large
from ingest.media import sniff_image_type
from ingest.services import parse_article, upsert_article, withdrawal
from shared import health, keys
from shared.errors import Problem, ProblemError
from shared.models import ArticleRow, MediaSource, utcnow
from shared.schema import ArticleIn

bp = Blueprint("ingest", __name__)


def ctx() -> IngestContext:
    return current_app.extensions["newsflow"]


def read_body(limit: int, what: str) -> bytes:
    """The request body, or a 413 naming ``limit`` when it is larger.

    Werkzeug refuses a Content-Length over the limit, but a chunked body (no Content-Length;
    gunicorn sets ``wsgi.input_terminated``) is only cut at the limit, silently: the article
    would be parsed from its first bytes. So the stream may run one byte past the limit, and a
    body that reaches it is refused here."""
    if (request.content_length or 0) > limit:
        raise too_large(limit, what)
    request.max_content_length = limit + 1
    data = request.get_data(cache=False)
    if len(data) > limit:
        raise too_large(limit, what)
    return data


def _read_json() -> object:
    ctype = request.mimetype
    if ctype != "application/json":
        raise ProblemError(
            Problem(
                "unsupported_media_type",
                f"send Content-Type: application/json, not {ctype or 'none'}",
            ),
            415,
        )
    raw = read_body(ctx().settings.max_body_bytes, "an article")
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ProblemError(
            Problem("bad_json", f"the body is not UTF-8 (byte {exc.start})"), 400
        ) from None
    except RecursionError:
        raise ProblemError(Problem("bad_json", "the JSON is nested too deeply"), 400) from None
    except ValueError as exc:
        raise ProblemError(Problem("bad_json", f"the body is not valid JSON: {exc}"), 400) from None


@bp.post("/v1/articles")
def post_article():
    article = parse_article(_read_json())
    auth.require_write(article.source)
    c = ctx()
    with c.sessions.begin() as session:
        result = upsert_article(session, article)
    return _accepted(c, result)


def _well_formed(article_id: str) -> bool:
    # Ids are 32 hex digits; anything else (a NUL, which PostgreSQL refuses in a query) is
    # no article.
    return len(article_id) <= 32 and article_id.isascii() and article_id.isalnum()


def _not_found(article_id: str) -> ProblemError:
    # Another source's article answers as one that does not exist: ids are not secret, but
    # which ones exist is other partners' business.
    return ProblemError(Problem("not_found", f"no article with id {article_id!r}"), 404)


@bp.delete("/v1/articles/<article_id>")
def delete_article(article_id: str):
    """Withdraw: a new version with pubStatus "canceled", as if the sender had posted it
    (the same outbox row, the same withdrawal step). Idempotent: again is "unchanged"."""
    c = ctx()
    with c.sessions.begin() as session:
        row = session.get(ArticleRow, article_id) if _well_formed(article_id) else None
        who = auth.principal()
        if row is None or who is None or not who.may_write(row.source):
            raise _not_found(article_id)
        result = upsert_article(session, withdrawal(row))
    return _accepted(c, result)


def _accepted(c: IngestContext, result):
    if result.outbox_id is not None:
        # Committed: queue the send for freshness, off this thread (ingest.relay.AfterCommit
        # says why); whatever does not go out now, the relay sends.
        c.after_commit.submit(result.outbox_id)
    body = {
        "id": result.id,
        "version": result.version,
        "result": result.outcome,
        "status": result.status,
        "statusUrl": url_for("ingest.get_article", article_id=result.id, _external=True),
    }
    code = 200 if result.outcome == "unchanged" else 202
    auth.audit_article(result.id, result.version)
    return jsonify(body), code, {"Location": body["statusUrl"]}


@bp.get("/v1/articles/<article_id>")
def get_article(article_id: str):
    with ctx().readers() as session:
        row = session.get(ArticleRow, article_id) if _well_formed(article_id) else None
        if row is None or not auth.may_read(row.source):
            raise _not_found(article_id)
        auth.audit_article(row.id, row.version)
        embargo = row.doc.get("embargoedUntil")
        embargoed = bool(embargo) and _in_future(embargo)
        hidden = embargoed and not auth.may_see_embargoed()
        base = ctx().settings.public_base_url
        images = {
            key: {k: v for k, v in info.items() if k in ("status", "reason")}
            for key, info in (row.media or {}).items()
        }
        return jsonify(
            {
                "id": row.id,
                "source": row.source,
                "guid": row.guid,
                "version": row.version,
                "publishedVersion": row.published_version,
                "status": row.status,
                "reason": row.status_reason,
                "images": images,
                "pageUrl": f"{base}/articles/{row.id}" if row.published_version else None,
                "embargoed": embargoed,
                # An embargoed article's content is for keys with embargo:read only.
                "article": _public_version(row, base)
                if hidden
                else with_renditions(row.doc, row.media or {}, base),
            }
        )


def _public_version(row: ArticleRow, base: str) -> dict | None:
    """For a key without embargo:read: the version readers see while a newer one is held by
    its embargo (None if nothing of the article is public yet)."""
    if row.published_version is None or row.published_doc is None:
        return None
    return with_renditions(row.published_doc, row.published_media or {}, base)


def _in_future(stamp: str) -> bool:
    return datetime.fromisoformat(stamp) > utcnow()


def with_renditions(doc: dict, media: dict, base: str) -> dict:
    """The stored article with each picture's renditions filled in (ninjs ``renditions``)."""
    associations = {}
    for key, assoc in doc.get("associations", {}).items():
        made = media.get(key, {})
        renditions = [{**r, "href": f"{base}/{r['href']}"} for r in made.get("renditions", [])]
        associations[key] = {**assoc, "renditions": renditions} if renditions else assoc
    return {**doc, "associations": associations} if associations else doc


def _media_filename() -> str | None:
    """The ``filename`` query parameter: a name for people, so a control character (which
    PostgreSQL cannot even store, in the case of NUL) is refused rather than kept."""
    filename = (request.args.get("filename") or "")[:255] or None
    if filename is not None and re.search(r"[\x00-\x1f\x7f]", filename):
        detail = "filename must not contain control characters"
        raise ProblemError(Problem("invalid_parameter", detail, "filename"), 400)
    return filename


@bp.post("/v1/media")
def post_media():
    c = ctx()
    filename = _media_filename()
    data = read_body(c.settings.max_image_bytes, "an image")
    if not data:
        raise ProblemError(Problem("empty_body", "send the image bytes as the request body"), 400)
    kind = sniff_image_type(data)
    if kind is None:
        raise ProblemError(
            Problem("not_an_image", "the bytes are not a JPEG, PNG, GIF or WebP image", None), 415
        )
    sha = hashlib.sha256(data).hexdigest()
    c.artifacts.put(keys.source_media_artifact(sha), data)
    with c.sessions.begin() as session:
        if session.get(MediaSource, sha) is None:
            session.add(MediaSource(sha256=sha, filename=filename, sizeinbytes=len(data)))
    return jsonify(
        {"uri": keys.media_uri(sha), "sha256": sha, "size": len(data), "type": kind}
    ), 201


@bp.get("/v1/schema")
def schema():
    return jsonify(ArticleIn.model_json_schema())


@bp.get("/healthz")
def healthz():
    # The readers' engine: on SQLite the writers' engine begins with BEGIN IMMEDIATE, and a
    # probe must not queue behind a writer for the lock.
    body, code = health.report(ctx().read_engine, ctx().settings.redis_url)
    return jsonify(body), code


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
