"""Outbound calls to partners' URLs: WebSub callbacks and webhook endpoints, one path.

Every call passes the address guard (shared.netguard) on the one DNS lookup and connects
only to the address it checked (render.fetch.Fetcher.request, as image fetches do), so a
partner's DNS cannot answer the check with a public address and the connection with an
inside one. No redirect is followed, the environment's proxies are ignored, each call has
connect and read timeouts, and a reply is read only up to a size and a deadline: a partner
dripping a byte at a time must not hold a worker process.

What comes back is a ``Reply``, never an exception: the callers (render.notify for WebSub,
render.webhooks) decide what a status means for them.
"""

from __future__ import annotations

import email.utils
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import requests
import urllib3

from render.fetch import Fetcher, FetchRefused, FetchTransient, Resolver, chunks, system_resolver
from shared.settings import Settings

TIMEOUT = (3.0, 10.0)  # connect, read
MAX_REPLY = 4096
REPLY_DEADLINE_S = 10.0  # for the whole reply, on top of each read's timeout


@dataclass(frozen=True)
class Reply:
    status: int | None  # None: no answer (refused, unreachable, timed out)
    body: bytes | None = None  # read only when asked; None if it came too slowly
    retry_after: float | None = None  # seconds, from a Retry-After header
    error: str | None = None  # what went wrong, for a log line or the delivery log
    refused: bool = False  # the address guard refused the URL: permanent

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def transient(self) -> bool:
        """Worth another attempt: no answer (but not a refusal), a 5xx, 408 or 429."""
        if self.refused:
            return False
        if self.status is None:
            return True
        return self.status >= 500 or self.status in (408, 429)


def caller(settings: Settings, resolver: Resolver = system_resolver) -> Fetcher:
    return Fetcher(
        max_bytes=MAX_REPLY,
        allow_hosts=settings.fetch_allow_hosts,
        resolver=resolver,
        connect_timeout=TIMEOUT[0],
        read_timeout=TIMEOUT[1],
    )


def retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Retry-After (RFC 9110 10.2.3): delay-seconds or an HTTP-date; None if absent or bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def read_some(resp: requests.Response, limit: int = MAX_REPLY) -> bytes | None:
    """At most ``limit`` bytes (+ one read) of the reply, or None if it takes longer than
    REPLY_DEADLINE_S. Raises requests' or urllib3's error if the reply breaks off."""
    deadline = time.monotonic() + REPLY_DEADLINE_S
    data = b""
    for chunk in chunks(resp):
        data += chunk
        if len(data) > limit:
            break
        if time.monotonic() > deadline:
            return None
    return data[:limit]


def send(
    settings: Settings,
    method: str,
    url: str,
    *,
    read: bool | None = False,
    resolver: Resolver = system_resolver,
    **kwargs,
) -> Reply:
    """One request. ``read``: True reads the reply (bounded), None reads it only when the
    status is not 2xx (for an error message), False never (the connection is closed)."""
    try:
        resp = caller(settings, resolver).request(method, url, stream=True, **kwargs)
    except FetchRefused as exc:
        return Reply(None, error=f"refused: {exc}", refused=True)
    except FetchTransient as exc:
        return Reply(None, error=str(exc))
    with resp:
        status = resp.status_code
        wait = retry_after(resp.headers.get("Retry-After")) if status in (429, 503) else None
        if read is False or (read is None and 200 <= status < 300):
            return Reply(status, retry_after=wait)
        try:
            body = read_some(resp)
        except (requests.RequestException, urllib3.exceptions.HTTPError) as exc:
            error = f"reading the reply of {url} failed: {type(exc).__name__}"
            # Asked for the reply itself (a challenge): no usable answer. Only for an error
            # message: the status stands.
            return Reply(None if read else status, retry_after=wait, error=error)
    return Reply(status, body, wait)
