"""The S3 backend: artifacts are objects in one bucket under a prefix (AWS S3, MinIO, any
S3-compatible store), so render workers and feed replicas can run on different hosts.

A PUT replaces an object atomically: a reader gets the old or the new object, never a mix
(S3's strong read-after-write consistency; MinIO gives the same). Credentials come from the
environment as boto3 reads them (``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY``, or an
instance role); they are never part of the settings, never logged.
"""

from __future__ import annotations

import mimetypes
import os
import threading
import time
from collections.abc import Hashable
from urllib.parse import urlsplit

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from shared.artifacts.interfaces import (
    KEY_MAX_BYTES,
    Artifact,
    ArtifactInfo,
    BadKey,
    StoreUnavailable,
    check_key,
)

# User metadata (x-amz-meta-newsflow-written): the write time in nanoseconds. Last-Modified
# has one-second resolution, too coarse to order a feed and its siblings written in the same
# second (render.feedbuild._siblings_behind).
WRITTEN = "newsflow-written"
_MISSING = {"404", "NoSuchKey", "NotFound"}


def parse_url(url: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix`` -> ("bucket", "some/prefix/"); the prefix may be empty."""
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc:
        raise ValueError(f"{url!r} is not s3://bucket[/prefix]")
    prefix = parts.path.strip("/")
    return parts.netloc, f"{prefix}/" if prefix else ""


class S3ArtifactStore:
    remote = True

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        endpoint_url: str | None = None,
        region: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.endpoint_url = endpoint_url or None
        self.region = region
        self.timeout = timeout
        self._client = None
        self._pid = 0
        self._lock = threading.Lock()

    @classmethod
    def from_url(cls, url: str, endpoint_url: str | None = None, **kw) -> S3ArtifactStore:
        bucket, prefix = parse_url(url)
        return cls(bucket, prefix, endpoint_url=endpoint_url, **kw)

    def __repr__(self) -> str:
        return f"S3ArtifactStore(s3://{self.bucket}/{self.prefix}, endpoint={self.endpoint_url})"

    def client(self):
        """One client per process: the worker's pool forks after the store is built, and a
        connection pool must not be shared across a fork. A boto3 client is thread-safe."""
        if self._client is None or self._pid != os.getpid():
            with self._lock:
                if self._client is None or self._pid != os.getpid():
                    config = Config(
                        connect_timeout=min(self.timeout, 3.0),
                        read_timeout=self.timeout,
                        retries={"max_attempts": 3, "mode": "standard"},
                        # MinIO and most S3-compatible servers are addressed by path.
                        s3={"addressing_style": "path" if self.endpoint_url else "auto"},
                    )
                    session = boto3.session.Session()
                    self._client = session.client(
                        "s3", endpoint_url=self.endpoint_url, region_name=self.region,
                        config=config,
                    )  # fmt: skip
                    self._pid = os.getpid()
        return self._client

    def _key(self, key: str) -> str:
        full = self.prefix + check_key(key)
        if len(full.encode("utf-8")) > KEY_MAX_BYTES:
            raise BadKey(f"artifact key {key[:100]!r}… is too long for S3 with its prefix")
        return full

    def put(self, key: str, data: bytes) -> None:
        self.put_many({key: data})

    def put_many(self, items: dict[str, bytes]) -> None:
        # In order, one PUT each: a feed lands before its siblings, as on the local backend.
        names = {key: self._key(key) for key in items}  # every key checked before any write
        for key, data in items.items():
            kind = mimetypes.guess_type(key)[0] or "application/octet-stream"
            try:
                self.client().put_object(
                    Bucket=self.bucket, Key=names[key], Body=data, ContentType=kind,
                    Metadata={WRITTEN: str(time.time_ns())},
                )  # fmt: skip
            except (BotoCoreError, ClientError) as exc:
                raise StoreUnavailable(f"cannot write {key!r} to {self!r}: {exc}") from exc

    def get(self, key: str) -> bytes | None:
        found = self.load(key)
        return None if found is None else found.data

    def load(self, key: str) -> Artifact | None:
        name = self._key(key)
        try:
            answer = self.client().get_object(Bucket=self.bucket, Key=name)
            data = answer["Body"].read()
        except ClientError as exc:
            if _missing(exc):
                return None
            raise StoreUnavailable(f"cannot read {key!r} from {self!r}: {exc}") from exc
        except BotoCoreError as exc:
            raise StoreUnavailable(f"cannot read {key!r} from {self!r}: {exc}") from exc
        return Artifact(data, _info(answer, len(data)))

    def info(self, key: str) -> ArtifactInfo | None:
        name = self._key(key)
        try:
            answer = self.client().head_object(Bucket=self.bucket, Key=name)
        except ClientError as exc:
            if _missing(exc):
                return None
            raise StoreUnavailable(f"cannot ask {self!r} about {key!r}: {exc}") from exc
        except BotoCoreError as exc:
            raise StoreUnavailable(f"cannot ask {self!r} about {key!r}: {exc}") from exc
        return _info(answer, answer["ContentLength"])

    def version(self, key: str) -> Hashable | None:
        found = self.info(key)
        return None if found is None else found.version

    def delete(self, key: str) -> None:
        name = self._key(key)
        try:
            self.client().delete_object(Bucket=self.bucket, Key=name)
        except (BotoCoreError, ClientError) as exc:
            raise StoreUnavailable(f"cannot delete {key!r} from {self!r}: {exc}") from exc


def _missing(exc: ClientError) -> bool:
    error = exc.response.get("Error", {})
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return error.get("Code") in _MISSING or status == 404


def _info(answer: dict, size: int) -> ArtifactInfo:
    written = answer.get("Metadata", {}).get(WRITTEN, "")
    if written.isdigit():
        mtime = int(written) / 1e9
    else:  # written by something else (a copy, a restore): Last-Modified will do
        mtime, written = answer["LastModified"].timestamp(), ""
    return ArtifactInfo(size, mtime, (answer.get("ETag", ""), written))
