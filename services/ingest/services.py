"""The write path: validate, sanitize, upsert by (source, guid), write the outbox row — all in
one transaction, so an article is never stored without its follow-up task, nor the reverse."""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ingest.bodyimages import Lifted, lift_images
from ingest.sanitize import ActiveContent, sanitize_body
from shared.errors import Problem, ProblemError
from shared.models import ArticleRow, OutboxRow, utcnow
from shared.schema import UNFIT, ArticleIn
from shared.tasknames import TASK_PROCESS_IMAGES, TASK_WITHDRAW

Outcome = Literal["created", "updated", "unchanged"]


@dataclass(frozen=True)
class UpsertResult:
    id: str
    version: int
    outcome: Outcome
    status: str
    outbox_id: int | None = None


# A sender's clock may run a little ahead of ours (NTP keeps servers within milliseconds; a
# laptop or a CMS without it drifts by seconds to minutes). Further ahead is a wrong clock or a
# wrong offset, and an article dated in the future would stand first on every feed until then.
MAX_CLOCK_SKEW = timedelta(minutes=5)
# An embargo holds an article back; one set further ahead than a year is a typo of the year,
# and its release task would wait in the broker all that time.
MAX_EMBARGO = timedelta(days=366)


def _path(loc: tuple) -> str | None:
    # A field path may quote the sender's own dict key: shown with its unfit characters
    # replaced, so the answer itself is always valid UTF-8.
    return ".".join(UNFIT.sub("\ufffd", str(p)) for p in loc) or None


def validation_problem(exc: ValidationError) -> Problem:
    first = exc.errors(include_url=False)[0]
    field = _path(first["loc"])
    msg = first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        msg = "unknown field; the article schema (GET /v1/schema) lists the fields"
    elif first["type"] == "missing":
        msg = "required field is missing"
    elif first["type"] == "string_unicode":
        msg = "not valid Unicode text (a lone surrogate); send UTF-8"
    more = len(exc.errors()) - 1
    suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more > 0 else ""
    return Problem("invalid_article", f"{field}: {msg}{suffix}", field)


def _validate(payload: dict) -> ArticleIn:
    try:
        return ArticleIn.model_validate(payload)
    except ValidationError as exc:
        raise ProblemError(validation_problem(exc)) from None


def _check_times(article: ArticleIn, now: datetime) -> None:
    """The checks that depend on the clock (the schema's fixed range is in shared.schema)."""
    latest = now + MAX_CLOCK_SKEW
    for name in ("versionCreated", "firstCreated"):
        value = getattr(article, name)
        if value is not None and value > latest:
            raise ProblemError(
                Problem(
                    "future_date",
                    f"{name}: {value.isoformat()} is in the future (now {now.isoformat()}, "
                    f"{int(MAX_CLOCK_SKEW.total_seconds() // 60)} minutes of clock skew "
                    "allowed); send the time the version was made, or set embargoedUntil",
                    name,
                )
            )
    embargo = article.embargoedUntil
    if embargo is not None and embargo > now + MAX_EMBARGO:
        raise ProblemError(
            Problem(
                "embargo_too_far",
                f"embargoedUntil: {embargo.isoformat()} is more than {MAX_EMBARGO.days} days "
                "ahead; check the year",
                "embargoedUntil",
            )
        )


def _clean_body(i: int, value: str) -> Lifted:
    try:
        lifted = lift_images(sanitize_body(value))
    except ActiveContent as exc:
        raise ProblemError(Problem("unsafe_html", str(exc), f"bodies.{i}.value")) from None
    if not lifted.html:
        raise ProblemError(
            Problem("empty_body", "the body holds no content once sanitized", f"bodies.{i}.value")
        )
    return lifted


def parse_article(payload: object, now: datetime | None = None) -> ArticleIn:
    """Validate and sanitize a posted JSON value, or raise ProblemError (422).

    Body pictures from other origins become associations (ingest.bodyimages); the result is
    validated again as a whole, so what is stored passes the schema exactly as a client's
    document would."""
    if not isinstance(payload, dict):
        raise ProblemError(Problem("invalid_article", "the body must be a JSON object", None))
    article = _validate(payload)
    _check_times(article, now or utcnow())
    doc = article.model_dump(mode="json", exclude_none=True)
    associations = doc.setdefault("associations", {})
    for i, body in enumerate(doc["bodies"]):
        lifted = _clean_body(i, body["value"])
        body["value"] = lifted.html
        for key, picture in lifted.pictures.items():
            associations.setdefault(key, picture)
    return _validate(doc)


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
    # An embargoed version is processed at once and held by the worker until its time
    # (render.services.hold; the scheduler releases it): no broker ETA, which on Redis would
    # be redelivered every visibility timeout and would live only in the broker.
    outbox = OutboxRow(task=_follow_up(article), args={"args": [row.id, row.version]})
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
    row.embargoed_until = article.embargoedUntil
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
        embargoed_until=article.embargoedUntil,
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


def withdrawal(row: ArticleRow, now: datetime | None = None) -> ArticleIn:
    """The stored article as a new version with ``pubStatus: canceled`` (what ``DELETE
    /v1/articles/<id>`` posts on the sender's behalf). Dated now, or at the stored version's
    time if that lies ahead (clock skew), so it is never refused as stale. Re-sending it is
    ``unchanged``: versionCreated alone is not a change of content."""
    when = max(now or utcnow(), row.version_created)
    try:
        return ArticleIn.model_validate(
            {**row.doc, "pubStatus": "canceled", "versionCreated": when.isoformat()}
        )
    except ValidationError as exc:
        # Stored under older rules that the current schema refuses: the sender must post
        # the withdrawal themselves, with a document that passes today.
        problem = validation_problem(exc)
        raise ProblemError(
            Problem(
                "cannot_withdraw",
                "the stored version no longer passes the article schema "
                f'({problem.detail}); POST it with pubStatus "canceled" instead',
                problem.field,
            ),
            status=409,
        ) from None
