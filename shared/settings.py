"""One settings object, read from the environment once at start-up.

Defaults run on a laptop with nothing installed: data in ``./var``, SQLite, a private Redis
on a unix socket in the data dir. Nothing below ``Settings.from_env`` reads ``os.environ``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path


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

    @property
    def artifacts_dir(self) -> Path:
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
        }
