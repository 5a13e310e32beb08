"""One settings object, read from the environment once at start-up.

Defaults run on a laptop with nothing installed: data in ``./var``, SQLite, a private Redis
on a unix socket in the data dir. Nothing below ``Settings.from_env`` reads ``os.environ``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise SystemExit(f"newsflow: {name}={raw!r} is not a whole number") from exc


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise SystemExit(f"newsflow: {name}={raw!r} is not a number") from exc


def _artifact_store(raw: str) -> str:
    """ "" (the default directory), an absolute directory, or s3://bucket[/prefix]."""
    raw = raw.strip()
    if not raw:
        return ""
    parts = urlsplit(raw)
    if parts.scheme == "s3":
        if not parts.netloc:
            raise SystemExit(
                f"newsflow: ARTIFACT_STORE={raw!r} names no bucket (s3://bucket/prefix)"
            )
        return raw.rstrip("/")
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise SystemExit(f"newsflow: ARTIFACT_STORE={raw!r}: file:// URLs name a local path")
        return str(Path(unquote(parts.path)).resolve())
    if parts.scheme and "://" in raw:
        raise SystemExit(
            f"newsflow: ARTIFACT_STORE={raw!r}: use a directory, file:///path or s3://bucket/prefix"
        )
    return str(Path(raw).resolve())


def _choice(env: Mapping[str, str], name: str, choices: tuple[str, ...], default: str) -> str:
    raw = env.get(name) or default
    if raw not in choices:
        raise SystemExit(f"newsflow: {name}={raw!r}: use one of {', '.join(choices)}")
    return raw


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    redis_url: str
    public_base_url: str
    ingest_port: int = 8001
    feed_port: int = 8002
    max_body_bytes: int = 5 * 1024 * 1024
    max_image_bytes: int = 25 * 1024 * 1024
    max_image_pixels: int = 60_000_000
    feed_size: int = 50
    archive_page_size: int = 50
    relay_interval: float = 0.5
    feed_title: str = "newsflow"
    # tag: URI authority for feed and entry ids; pin it before the first publication.
    tag_authority: str = "newsflow.localhost,2026"
    # Hosts the image fetcher may reach even on private or loopback addresses.
    fetch_allow_hosts: frozenset[str] = frozenset()
    # The WebSub hub every feed names; by default the feed service is its own hub.
    websub_hub_url: str = ""
    # HMAC key for API keys at rest (shared.partners). Never printed: repr=False. Empty means
    # "not configured": the embedded default keeps one in the data dir (keysecret.py).
    key_secret: str = field(default="", repr=False)
    # Requests per key (or per address without one), flask-limiter syntax; a partner's own
    # limit overrides it.
    rate_limit: str = "600/minute"
    # Audit rows older than this are pruned by the periodic job.
    audit_retention_days: int = 90
    # A pipeline step that meets a transient failure (an image host answering 5xx, the store
    # or Redis away) is retried this many times, waiting 2 s, 4 s, ... up to the cap (with
    # jitter), then the article is marked failed with the reason (render.tasks).
    task_max_retries: int = 8
    task_retry_backoff_max: int = 300
    # Webhook retries (shared.webhooks.retry): the first retry after about this many seconds,
    # each next one 4 times later, none later than the cap; given up after that many
    # attempts. An endpoint failing (no success) for WEBHOOK_DISABLE_AFTER seconds is disabled.
    webhook_retry_base_s: float = 5.0
    webhook_retry_max_s: float = 4 * 3600.0
    webhook_max_attempts: int = 10
    webhook_disable_after_s: float = 5 * 24 * 3600.0
    # Where artifacts live: "" (the data dir's artifacts/), a directory, or s3://bucket/prefix
    # (docs/operations.md). S3 credentials are boto3's own environment variables, never here.
    artifact_store: str = ""
    s3_endpoint_url: str = ""  # MinIO or another S3-compatible server; empty: AWS
    # A feed replica on a remote store asks it again after this long even without a
    # pub/sub announcement (the safety net for a missed one).
    artifact_revalidate: float = 5.0

    @property
    def artifacts_remote(self) -> bool:
        return self.artifact_store.startswith("s3://")

    # Log lines: "json" (one object a line, for operators' collectors) or "console" (people;
    # `newsflow up` chooses it by default). shared.logs.
    log_format: str = "json"
    # Who may read /metrics (shared.metrics.may_scrape): with a token, whoever sends it as a
    # bearer token; without one, only loopback callers not relayed by a proxy.
    metrics_token: str = field(default="", repr=False)
    # The worker's own metrics endpoint (render.observe); port 0 turns it off.
    worker_metrics_host: str = "127.0.0.1"
    worker_metrics_port: int = 8003

    @property
    def artifacts_dir(self) -> Path:
        """The local backend's directory (meaningless for a remote store)."""
        if self.artifact_store and not self.artifacts_remote:
            return Path(self.artifact_store)
        return self.data_dir / "artifacts"

    @property
    def redis_socket(self) -> Path:
        return self.data_dir / "redis.sock"

    @property
    def embedded_redis(self) -> bool:
        """True when no REDIS_URL was given and the private server is ours to start."""
        return self.redis_url == f"redis+socket://{self.redis_socket}"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        data_dir = Path(env.get("NEWSFLOW_DATA_DIR") or "./var").resolve()
        ingest_port = _int(env, "INGEST_PORT", 8001)
        feed_port = _int(env, "FEED_PORT", 8002)
        return cls(
            data_dir=data_dir,
            database_url=env.get("DATABASE_URL") or f"sqlite:///{data_dir / 'newsflow.db'}",
            redis_url=env.get("REDIS_URL") or f"redis+socket://{data_dir / 'redis.sock'}",
            public_base_url=(env.get("PUBLIC_BASE_URL") or f"http://127.0.0.1:{feed_port}").rstrip(
                "/"
            ),
            ingest_port=ingest_port,
            feed_port=feed_port,
            max_body_bytes=_int(env, "MAX_BODY_BYTES", 5 * 1024 * 1024),
            max_image_bytes=_int(env, "MAX_IMAGE_BYTES", 25 * 1024 * 1024),
            max_image_pixels=_int(env, "MAX_IMAGE_PIXELS", 60_000_000),
            feed_size=_int(env, "FEED_SIZE", 50),
            archive_page_size=max(1, _int(env, "ARCHIVE_PAGE_SIZE", 50)),
            relay_interval=_float(env, "RELAY_INTERVAL", 0.5),
            websub_hub_url=env.get("WEBSUB_HUB_URL")
            or f"{(env.get('PUBLIC_BASE_URL') or f'http://127.0.0.1:{feed_port}').rstrip('/')}/hub",
            feed_title=env.get("FEED_TITLE") or "newsflow",
            tag_authority=env.get("TAG_AUTHORITY") or "newsflow.localhost,2026",
            key_secret=env.get("NEWSFLOW_KEY_SECRET", ""),
            rate_limit=env.get("RATE_LIMIT") or "600/minute",
            audit_retention_days=_int(env, "AUDIT_RETENTION_DAYS", 90),
            task_max_retries=max(0, _int(env, "TASK_MAX_RETRIES", 8)),
            task_retry_backoff_max=max(1, _int(env, "TASK_RETRY_BACKOFF_MAX", 300)),
            webhook_retry_base_s=_float(env, "WEBHOOK_RETRY_BASE", 5.0),
            webhook_retry_max_s=_float(env, "WEBHOOK_RETRY_MAX", 4 * 3600.0),
            webhook_max_attempts=max(1, _int(env, "WEBHOOK_MAX_ATTEMPTS", 10)),
            webhook_disable_after_s=_float(env, "WEBHOOK_DISABLE_AFTER", 5 * 24 * 3600.0),
            artifact_store=_artifact_store(env.get("ARTIFACT_STORE", "")),
            s3_endpoint_url=env.get("S3_ENDPOINT_URL", ""),
            artifact_revalidate=max(0.1, _float(env, "ARTIFACT_REVALIDATE_SECONDS", 5.0)),
            log_format=_choice(env, "LOG_FORMAT", ("json", "console"), "json"),
            metrics_token=env.get("METRICS_TOKEN", ""),
            worker_metrics_host=env.get("WORKER_METRICS_HOST") or "127.0.0.1",
            worker_metrics_port=_int(env, "WORKER_METRICS_PORT", 8003),
            fetch_allow_hosts=frozenset(
                h.strip().lower() for h in env.get("FETCH_ALLOW_HOSTS", "").split(",") if h.strip()
            ),
        )

    def to_env(self) -> dict[str, str]:
        """The environment that makes ``from_env`` give these settings back (child processes)."""
        return {
            "NEWSFLOW_DATA_DIR": str(self.data_dir),
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url,
            "PUBLIC_BASE_URL": self.public_base_url,
            "INGEST_PORT": str(self.ingest_port),
            "FEED_PORT": str(self.feed_port),
            "MAX_BODY_BYTES": str(self.max_body_bytes),
            "MAX_IMAGE_BYTES": str(self.max_image_bytes),
            "MAX_IMAGE_PIXELS": str(self.max_image_pixels),
            "FEED_SIZE": str(self.feed_size),
            "ARCHIVE_PAGE_SIZE": str(self.archive_page_size),
            "RELAY_INTERVAL": str(self.relay_interval),
            "FEED_TITLE": self.feed_title,
            "TAG_AUTHORITY": self.tag_authority,
            "FETCH_ALLOW_HOSTS": ",".join(sorted(self.fetch_allow_hosts)),
            "WEBSUB_HUB_URL": self.websub_hub_url,
            "NEWSFLOW_KEY_SECRET": self.key_secret,
            "RATE_LIMIT": self.rate_limit,
            "AUDIT_RETENTION_DAYS": str(self.audit_retention_days),
            "TASK_MAX_RETRIES": str(self.task_max_retries),
            "TASK_RETRY_BACKOFF_MAX": str(self.task_retry_backoff_max),
            "WEBHOOK_RETRY_BASE": repr(self.webhook_retry_base_s),
            "WEBHOOK_RETRY_MAX": repr(self.webhook_retry_max_s),
            "WEBHOOK_MAX_ATTEMPTS": str(self.webhook_max_attempts),
            "WEBHOOK_DISABLE_AFTER": repr(self.webhook_disable_after_s),
            "ARTIFACT_STORE": self.artifact_store,
            "S3_ENDPOINT_URL": self.s3_endpoint_url,
            "ARTIFACT_REVALIDATE_SECONDS": str(self.artifact_revalidate),
            "LOG_FORMAT": self.log_format,
            "METRICS_TOKEN": self.metrics_token,
            "WORKER_METRICS_HOST": self.worker_metrics_host,
            "WORKER_METRICS_PORT": str(self.worker_metrics_port),
        }
