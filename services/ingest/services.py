"""The write path: validate, sanitize, upsert by (source, guid), write the outbox row — all in
one transaction, so an article is never stored without its follow-up task, nor the reverse."""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ingest.sanitize import ActiveContent, sanitize_body
from shared.errors import Problem, ProblemError
from shared.models import ArticleRow, OutboxRow, utcnow
from shared.schema import ArticleIn
from shared.tasknames import TASK_PROCESS_IMAGES, TASK_WITHDRAW

Outcome = Literal["created", "updated", "unchanged"]


@dataclass(frozen=True)
class UpsertResult:
    id: str
    version: int
    outcome: Outcome
    status: str
    outbox_id: int | None = None


def validation_problem(exc: ValidationError) -> Problem:
    first = exc.errors(include_url=False)[0]
    field = ".".join(str(p) for p in first["loc"]) or None
    msg = first["msg"]
    if first["type"] == "extra_forbidden":
        msg = "unknown field; the article schema (GET /v1/schema) lists the fields"
    elif first["type"] == "missing":
        msg = "required field is missing"
    more = len(exc.errors()) - 1
    suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more > 0 else ""
    return Problem("invalid_article", f"{field}: {msg}{suffix}", field)


def parse_article(payload: object) -> ArticleIn:
    """Validate and sanitize a posted JSON value, or raise ProblemError (422)."""
    if not isinstance(payload, dict):
        raise ProblemError(Problem("invalid_article", "the body must be a JSON object", None))
    try:
        article = ArticleIn.model_validate(payload)
    except ValidationError as exc:
        raise ProblemError(validation_problem(exc)) from None
    bodies = []
    for i, body in enumerate(article.bodies):
        try:
            clean = sanitize_body(body.value)
        except ActiveContent as exc:
            raise ProblemError(Problem("unsafe_html", str(exc), f"bodies.{i}.value")) from None
        if not clean:
            raise ProblemError(
                Problem(
                    "empty_body", "the body holds no content once sanitized", f"bodies.{i}.value"
                )
            )
        bodies.append(body.model_copy(update={"value": clean}))
    return article.model_copy(update={"bodies": bodies})


def canonical_doc(article: ArticleIn) -> dict:
    return article.model_dump(mode="json", exclude_none=True)


def content_hash(doc: dict) -> str:
    # versionCreated alone moving is not a change of content: re-sending is a no-op.
    material = {k: v for k, v in doc.items() if k != "versionCreated"}
    blob = json.dumps(material, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()


def _follow_up(article: ArticleIn) -> str:
    return TASK_PROCESS_IMAGES if article.pubStatus == "usable" else TASK_WITHDRAW


def _outbox(session: Session, article: ArticleIn, row: ArticleRow) -> int:
    args: dict = {"args": [row.id, row.version]}
    embargo = article.embargoedUntil
    if article.pubStatus == "usable" and embargo and embargo > utcnow():
        args["eta"] = embargo.isoformat()
    outbox = OutboxRow(task=_follow_up(article), args=args)
    session.add(outbox)
    session.flush()
    return outbox.id


def upsert_article(session: Session, article: ArticleIn) -> UpsertResult:
    """Insert or update within the caller's transaction; the caller commits."""
    doc = canonical_doc(article)
    digest = content_hash(doc)
    row = session.scalar(
        select(ArticleRow)
        .where(ArticleRow.source == article.source, ArticleRow.guid == article.guid)
        .with_for_update()
    )
    if row is None:
        return _insert(session, article, doc, digest)
    if article.versionCreated < row.version_created:
        raise ProblemError(
            Problem(
                "stale_version",
                f"versionCreated {article.versionCreated.isoformat()} is older than the stored "
                f"version {row.version} ({row.version_created.isoformat()}); nothing was changed",
                "versionCreated",
            ),
            status=409,
        )
    if digest == row.content_hash:
        return UpsertResult(row.id, row.version, "unchanged", row.status)
    row.version += 1
    row.doc = doc
    row.content_hash = digest
    row.version_created = article.versionCreated
    row.status = "queued" if article.pubStatus == "usable" else "withdrawn"
    row.status_reason = None
    outbox_id = _outbox(session, article, row)
    return UpsertResult(row.id, row.version, "updated", row.status, outbox_id)


def _insert(session: Session, article: ArticleIn, doc: dict, digest: str) -> UpsertResult:
    first: datetime = article.firstCreated or article.versionCreated
    row = ArticleRow(
        id=uuid.uuid4().hex,
        source=article.source,
        guid=article.guid,
        version=1,
        content_hash=digest,
        doc=doc,
        status="queued" if article.pubStatus == "usable" else "withdrawn",
        media={},
        version_created=article.versionCreated,
        first_created=first,
    )
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        # A concurrent request inserted the same (source, guid) first: update that one instead.
        return upsert_article(session, article)
    outbox_id = _outbox(session, article, row)
    return UpsertResult(row.id, row.version, "created", row.status, outbox_id)
