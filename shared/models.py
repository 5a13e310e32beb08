"""The store's tables. Datetimes are stored in UTC; the offset an article was written with
lives on in its ``doc`` (the validated JSON), which is what pages and feeds print."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UTCDateTime(TypeDecorator):
    """Aware in, aware out, on every backend (SQLite has no time zones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar = {dict[str, Any]: JSON, datetime: UTCDateTime}


class ArticleRow(Base):
    __tablename__ = "articles"
    __table_args__ = (
        UniqueConstraint("source", "guid", name="uq_articles_source_guid"),
        Index("ix_articles_status_embargo", "status", "embargoed_until"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    source: Mapped[str] = mapped_column(String(64))
    guid: Mapped[str] = mapped_column(String(500))
    version: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64))
    doc: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(16))
    status_reason: Mapped[str | None] = mapped_column(Text)
    # Per image association: {"status": "ok"|"failed", "reason": ..., "renditions": [...]}.
    media: Mapped[dict[str, Any]] = mapped_column(default=dict)
    version_created: Mapped[datetime]
    first_created: Mapped[datetime]
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    published_at: Mapped[datetime | None]
    # The version whose artifacts are live; a late task for an older version never lowers it.
    published_version: Mapped[int | None] = mapped_column(Integer)
    # The live version's document and pictures, as published: feeds are written from these,
    # so an update being processed (``doc``/``media`` already the new version's) never shows
    # in a feed before it is published. None for rows published before migration 0004.
    published_doc: Mapped[dict[str, Any] | None]
    published_media: Mapped[dict[str, Any] | None]
    # The newest version's embargo (None: none). A version held by it has status "embargoed"
    # until the scheduler releases it (newsflow.scheduler); the index finds those due.
    embargoed_until: Mapped[datetime | None]


class FeedEntry(Base):
    """Which published article is in which feed; one indexed range scan builds a feed."""

    __tablename__ = "feed_entries"
    __table_args__ = (Index("ix_feed_entries_feed_sort", "feed_key", "sort_at", "article_id"),)

    feed_key: Mapped[str] = mapped_column(String(300), primary_key=True)
    article_id: Mapped[str] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True
    )
    sort_at: Mapped[datetime]


class FeedLogRow(Base):
    """Every publication of an article version into a feed, in order. Archive pages
    (RFC 5005) are fixed blocks of this log, so a page never changes once it is full."""

    __tablename__ = "feed_log"
    __table_args__ = (
        Index("ix_feed_log_feed_id", "feed_key", "id"),
        # A withdrawal looks up every feed an article was ever logged in (rare, but the log
        # only grows).
        Index("ix_feed_log_article", "article_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    feed_key: Mapped[str] = mapped_column(String(300))
    article_id: Mapped[str] = mapped_column(String(32))
    version: Mapped[int] = mapped_column(Integer)
    logged_at: Mapped[datetime] = mapped_column(default=utcnow)


class ChangeRow(Base):
    """The change log: every publication, update, withdrawal and embargo release of an
    article, in commit order (``seq``), with the version's document and pictures as published
    (a pull page or a webhook is made from these, so the same cursor always gives the same
    page). ``audience`` is "all", or "embargo" for a version held by its embargo: only partners
    with ``embargo:read`` see those (shared.changes)."""

    __tablename__ = "changes"
    __table_args__ = (
        Index("ix_changes_article", "article_id", "seq"),
        Index("ix_changes_source", "source", "seq"),
        Index("ix_changes_at", "at"),
    )

    seq: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    article_id: Mapped[str] = mapped_column(String(32))
    version: Mapped[int] = mapped_column(Integer)
    op: Mapped[str] = mapped_column(String(16))  # published | updated | withdrawn | released
    audience: Mapped[str] = mapped_column(String(8))  # all | embargo
    source: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    # None for a withdrawal (a tombstone carries no content).
    doc: Mapped[dict[str, Any] | None]
    media: Mapped[dict[str, Any] | None]


class ChangePlace(Base):
    """Which changes concern which region: ``?region=`` is one indexed range scan."""

    __tablename__ = "change_places"

    name: Mapped[str] = mapped_column(String(300), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)


class MediaRef(Base):
    """Which live (published) article shows which rendition set. A set is served at
    ``/media/<set>/...`` only while a row names it (shared.mediarefs): a withdrawn article's
    pictures stop being served unless another live article shows them too, and a held
    (embargoed) article's are not served before its release."""

    __tablename__ = "media_refs"
    __table_args__ = (Index("ix_media_refs_article", "article_id"),)

    set_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    article_id: Mapped[str] = mapped_column(String(32), primary_key=True)


class OutboxRow(Base):
    """A task to send once the transaction that wrote it has committed (transactional outbox)."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_pending", "sent_at", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    task: Mapped[str] = mapped_column(String(100))
    args: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # A relay claims a row until this moment, so two relays never send it at once.
    claimed_until: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)


class MediaSource(Base):
    """An uploaded image's source bytes, content-addressed; the bytes live in the artifact store."""

    __tablename__ = "media_sources"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    filename: Mapped[str | None] = mapped_column(String(255))
    sizeinbytes: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebSubSubscription(Base):
    """A verified WebSub subscription: one callback's lease on one feed (the topic).

    Only verified subscriptions are stored: a request waits in its verification task, so an
    unverified subscribe or unsubscribe never changes what is here. The id is the SHA-256 of
    the canonical topic URL and the callback, the pair the WebSub Recommendation keys on.
    """

    __tablename__ = "websub_subscriptions"
    __table_args__ = (Index("ix_websub_subscriptions_feed", "feed_key", "expires_at"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    topic: Mapped[str] = mapped_column(Text)  # canonical feed URL, sent as Link rel="self"
    feed_key: Mapped[str] = mapped_column(String(300))
    fmt: Mapped[str] = mapped_column(String(8))
    callback: Mapped[str] = mapped_column(Text)
    # HMAC key for X-Hub-Signature; under 200 bytes (WebSub 5.1).
    secret: Mapped[str | None] = mapped_column(String(200))
    lease_seconds: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    verified_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    # SHA-256 of the body last delivered, so the same bytes are not sent twice.
    delivered_sha256: Mapped[str | None] = mapped_column(String(64))
    delivered_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)


class Partner(Base):
    """A partner site or system: what its keys may do (scopes), which sources they may write,
    from which addresses, and at what rate."""

    __tablename__ = "partners"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[list[str]] = mapped_column(JSON)
    sources: Mapped[list[str]] = mapped_column(JSON)  # sources its keys may write
    allow_ips: Mapped[list[str]] = mapped_column(JSON)  # CIDRs; empty: any address
    rate_limit: Mapped[str | None] = mapped_column(String(64))  # overrides RATE_LIMIT
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]


class ApiKey(Base):
    """One key of a partner. Only a keyed hash of the token is kept (shared.partners); the
    id is the token's visible, non-secret part, so a lookup needs no scan."""

    __tablename__ = "api_keys"
    __table_args__ = (Index("ix_api_keys_partner", "partner_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    partner_id: Mapped[str] = mapped_column(ForeignKey("partners.id", ondelete="CASCADE"))
    hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The key stops working at this moment: --expires, or the end of a rotation's grace.
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class AuditRow(Base):
    """Every request made with a key: who, what, the answer, from where. Never the key."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_partner_at", "partner_id", "at"),
        Index("ix_audit_log_at", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    partner_id: Mapped[str | None] = mapped_column(String(32))
    key_id: Mapped[str | None] = mapped_column(String(32))
    method: Mapped[str] = mapped_column(String(10))
    route: Mapped[str] = mapped_column(String(200))
    status: Mapped[int] = mapped_column(Integer)
    article_id: Mapped[str | None] = mapped_column(String(32))
    version: Mapped[int | None] = mapped_column(Integer)
    client: Mapped[str | None] = mapped_column(String(64))


class WebhookEndpoint(Base):
    """A partner's webhook endpoint (Standard Webhooks): where change events are POSTed.

    The signing secret must be usable to sign, so it cannot be hashed like an API key: it is
    kept encrypted (AES-GCM under a key derived from the server secret, shared.webhooks.
    secretbox). During a rotation's grace the previous secret signs too. ``cursor`` is the
    last change sequence dispatched to it; it moves in the transaction that inserts the
    deliveries, so every change becomes exactly one delivery (shared.webhooks.dispatch).
    """

    __tablename__ = "webhook_endpoints"
    __table_args__ = (Index("ix_webhook_endpoints_partner", "partner_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    partner_id: Mapped[str] = mapped_column(ForeignKey("partners.id", ondelete="CASCADE"))
    url: Mapped[str] = mapped_column(Text)
    events: Mapped[list[str]] = mapped_column(JSON)  # subset of shared.changes.OPS
    secret: Mapped[str] = mapped_column(Text)  # encrypted, never the plain secret
    previous_secret: Mapped[str | None] = mapped_column(Text)  # encrypted, during a rotation
    previous_until: Mapped[datetime | None]
    cursor: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    status: Mapped[str] = mapped_column(String(16), default="enabled")  # enabled | disabled
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    disabled_at: Mapped[datetime | None]
    # The first failed attempt since the last success: disabled after WEBHOOK_DISABLE_AFTER.
    failing_since: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookDelivery(Base):
    """One change for one endpoint: its log entry and its retry state. The id (``msg_…``)
    is the Standard Webhooks ``webhook-id``; it stays the same on every retry and resend, so
    a partner dedupes on it. The next attempt's time is kept here, not in the broker
    (a Celery countdown beyond the visibility timeout would be delivered twice)."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("endpoint_id", "seq", name="uq_webhook_deliveries_endpoint_seq"),
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_created", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    endpoint_id: Mapped[str] = mapped_column(ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    article_id: Mapped[str] = mapped_column(String(32))
    event: Mapped[str] = mapped_column(String(16))  # published | updated | withdrawn | released
    status: Mapped[str] = mapped_column(String(16))  # pending | retrying | delivered | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    # An attempt in flight holds the delivery until then (a crashed sender's claim lapses).
    claimed_until: Mapped[datetime | None]
    # A task for it is on its way until then: the sweep for due deliveries leaves it alone.
    queued_until: Mapped[datetime | None]
    last_attempt_at: Mapped[datetime | None]
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None]
