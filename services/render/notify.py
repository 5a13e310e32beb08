"""WebSub on the worker: telling the hub a feed changed, and being the hub.

- ``feed_updated``: after a rebuild wrote new bytes. When the configured hub is someone
  else's, ping it (``hub.mode=publish``, ``hub.url=<feed URL>``, form-encoded POST). When
  the feed service is its own hub, send one delivery task per active subscriber instead.
- ``verify``: the verification of intent for a (un)subscription request the feed service
  accepted: a GET to the callback with a challenge; only an echoed challenge (2xx) stores
  or removes the subscription.
- ``deliver``: POST the topic's current feed to one subscriber, with the ``Link`` headers
  and, when the subscriber gave a secret, ``X-Hub-Signature: sha256=<HMAC of the body>``.

Every callback request goes through ``render.delivery``, the one outbound path webhooks use
too: the address guard, a connection pinned to the checked address, no redirect, timeouts,
a bounded reply. Failures that may pass (connection, timeout, 5xx, 408, 429) raise
``NotifyTransient``, which the tasks retry with exponential backoff; anything else is final.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import logging
import secrets
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

import requests
from sqlalchemy import delete, select

from render import delivery, locks, view
from render.context import RenderContext
from render.feeds import CONTENT_TYPES
from render.fetch import Resolver, system_resolver
from shared import keys
from shared.models import WebSubSubscription, utcnow
from shared.settings import Settings

log = logging.getLogger(__name__)

HUB_PATH = "/hub"
TIMEOUT = delivery.TIMEOUT  # connect, read
USER_AGENT = "newsflow-websub/1 (+https://www.w3.org/TR/websub/)"


class NotifyTransient(RuntimeError):
    """The other side failed in a way that may pass; worth a retry."""


def own_hub(settings: Settings) -> bool:
    """True when the hub our feeds name is the feed service's own ``/hub``."""
    return settings.websub_hub_url.rstrip("/") == f"{settings.public_base_url}{HUB_PATH}"


def subscription_id(topic: str, callback: str) -> str:
    return hashlib.sha256(f"{topic}\n{callback}".encode()).hexdigest()


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def link_header(hub: str, topic: str) -> str:
    links = [f'<{topic}>; rel="self"']
    if hub:
        links.insert(0, f'<{hub}>; rel="hub"')
    return ", ".join(links)


def _transient(status: int) -> bool:
    return status >= 500 or status in (408, 429)


# --- the publisher's side: ping the configured hub --------------------------------------


def ping_hub(hub: str, urls: Iterable[str], post: Callable = requests.post) -> None:
    """Tell an outside hub these URLs changed. The hub is the operator's choice, so no address
    guard applies. A 4xx is logged and given up; a 5xx or network failure is transient."""
    for url in urls:
        try:
            resp = post(
                hub,
                data={"hub.mode": "publish", "hub.url": url},
                timeout=TIMEOUT,
                allow_redirects=False,
                headers={"User-Agent": USER_AGENT},
            )
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise NotifyTransient(f"pinging {hub} failed: {type(exc).__name__}") from None
        status = resp.status_code
        resp.close()
        if _transient(status):
            raise NotifyTransient(f"hub {hub} answered {status} for {url}")
        if not 200 <= status < 300:
            log.warning("hub %s refused the ping for %s with %s; not retried", hub, url, status)


def worth_notifying(ctx: RenderContext, feed_key: str) -> bool:
    """Whether a rebuild of this feed has anyone to tell: an outside hub always, our own hub
    only when somebody is subscribed to the feed (an expired lease counts: the notification
    removes it). Most feeds have no subscriber, and a task per rebuild for nobody was a
    measurable part of the worker's time (docs/benchmarks.md, Freshness)."""
    s = ctx.settings
    if not s.websub_hub_url:
        return False
    if not own_hub(s):
        return True
    with ctx.readers() as session:
        found = session.scalar(
            select(WebSubSubscription.id).where(WebSubSubscription.feed_key == feed_key).limit(1)
        )
    return found is not None


def feed_updated(
    ctx: RenderContext, feed_key: str, formats: list[str], send: Callable[[str], None]
) -> int:
    """A feed's bytes changed in ``formats``. Returns how many pings or deliveries were sent."""
    s = ctx.settings
    if not s.websub_hub_url:
        return 0
    if not own_hub(s):
        urls = [view.feed_url(s.public_base_url, feed_key, fmt) for fmt in formats]
        ping_hub(s.websub_hub_url, urls)
        return len(urls)
    now = utcnow()
    with ctx.sessions.begin() as session:
        # Leases expire: a lapsed subscription is removed the next time its feed changes,
        # and never delivered to meanwhile.
        session.execute(
            delete(WebSubSubscription).where(
                WebSubSubscription.feed_key == feed_key, WebSubSubscription.expires_at <= now
            )
        )
        ids = list(
            session.scalars(
                select(WebSubSubscription.id).where(
                    WebSubSubscription.feed_key == feed_key,
                    WebSubSubscription.expires_at > now,
                    WebSubSubscription.fmt.in_(formats),
                )
            )
        )
    for sub_id in ids:
        send(sub_id)
    return len(ids)


# --- the hub's side: verification of intent ----------------------------------------------


def verify(
    ctx: RenderContext,
    mode: str,
    feed_key: str,
    fmt: str,
    topic: str,
    callback: str,
    lease_seconds: int,
    secret: str | None,
    resolver: Resolver = system_resolver,
    requested_at: float | None = None,
) -> bool:
    """Ask the subscriber whether it meant it; on an echoed challenge, apply the request.
    True when the request was verified and applied.

    ``requested_at`` (when the hub took the request) orders the requests for one
    subscription: a subscribe and the unsubscribe that followed it are verified in parallel,
    and whichever verification ends last must not undo the newer request."""
    canonical = view.feed_url(ctx.settings.public_base_url, feed_key, fmt)
    sub_id = subscription_id(canonical, callback)
    if requested_at is not None and _superseded(ctx, sub_id, requested_at):
        log.info("websub %s for %s by %s superseded by a newer request", mode, topic, callback)
        return False
    challenge = secrets.token_urlsafe(32)
    params = {"hub.mode": mode, "hub.topic": topic, "hub.challenge": challenge}
    if mode == "subscribe":
        params["hub.lease_seconds"] = str(lease_seconds)
    asked_at = utcnow()  # a lease runs from the verification request (WebSub 5.3)
    # requests appends the parameters to a query the callback already has, with "&".
    answer = delivery.send(
        ctx.settings, "GET", callback, read=True, resolver=resolver,
        params=params, headers={"User-Agent": USER_AGENT},
    )  # fmt: skip
    if answer.refused:
        log.warning("websub %s for %s not verified: callback %s", mode, topic, answer.error)
        return False
    if answer.transient:
        raise NotifyTransient(
            f"verifying at {callback}: {answer.error or f'answered {answer.status}'}"
        )
    status, reply = answer.status, answer.body
    if reply is None:
        log.warning("websub %s for %s: %s answered too slowly", mode, topic, callback)
        return False
    if not (200 <= status < 300 and reply.strip() == challenge.encode()):
        log.info("websub %s for %s not confirmed by %s (status %s)", mode, topic, callback, status)
        return False
    apply = functools.partial(
        _apply, ctx, mode, sub_id, canonical, feed_key, fmt, callback, lease_seconds, secret,
        asked_at,
    )  # fmt: skip
    if requested_at is None:
        return apply()
    # One verification of a subscription applies at a time, and only if no newer request
    # for it has been applied meanwhile. A lease (render.locks), renewed while _apply waits
    # (for up to SQLite's 30 s busy timeout), so a crashed verifier's lock lapses in seconds.
    # Only two requests for one subscription meet here, and the holder's work is one short
    # transaction: a brief try, then the task's retry, keeps the notify slot free meanwhile.
    try:
        with locks.holding(ctx.redis, f"newsflow:lock:websub:{sub_id}") as lease:
            if _superseded(ctx, sub_id, requested_at):
                log.info("websub %s for %s by %s superseded by a newer one", mode, topic, callback)
                return False
            lease.check()  # not once it lapsed: a newer request may be applying now
            applied = apply()
            ctx.redis.set(_latest_key(sub_id), repr(requested_at), ex=LATEST_TTL_S)
            return applied
    except locks.LeaseBusy as exc:
        raise NotifyTransient(f"subscription {sub_id} is busy: {exc}") from None


# How long the time of the newest applied request is kept: longer than any lease, so an old
# request retried late cannot undo a newer one.
LATEST_TTL_S = 40 * 24 * 3600


def _latest_key(sub_id: str) -> str:
    return f"newsflow:websub:latest:{sub_id}"


def _superseded(ctx: RenderContext, sub_id: str, requested_at: float) -> bool:
    latest = ctx.redis.get(_latest_key(sub_id))
    return latest is not None and float(latest) > requested_at


def _apply(
    ctx: RenderContext,
    mode: str,
    sub_id: str,
    canonical: str,
    feed_key: str,
    fmt: str,
    callback: str,
    lease_seconds: int,
    secret: str | None,
    asked_at: datetime,
) -> bool:
    with ctx.sessions.begin() as session:
        row = session.get(WebSubSubscription, sub_id)
        if mode == "unsubscribe":
            if row is not None:
                session.delete(row)
            log.info("websub: %s unsubscribed from %s", callback, canonical)
            return True
        if row is None:
            row = WebSubSubscription(id=sub_id)
            session.add(row)
        row.topic, row.feed_key, row.fmt, row.callback = canonical, feed_key, fmt, callback
        row.secret = secret
        row.lease_seconds = lease_seconds
        row.verified_at = asked_at
        row.expires_at = asked_at + timedelta(seconds=lease_seconds)
        row.last_error = None
        # a new secret signs the next delivery afresh, even of the same bytes
        row.delivered_sha256 = None
    log.info("websub: %s subscribed to %s for %ss", callback, canonical, lease_seconds)
    return True


# --- the hub's side: content distribution ------------------------------------------------


def record_failure(ctx: RenderContext, sub_id: str, reason: str) -> None:
    with ctx.sessions.begin() as session:
        row = session.get(WebSubSubscription, sub_id)
        if row is not None:
            row.last_error = reason[:2000]


def deliver(ctx: RenderContext, sub_id: str, resolver: Resolver = system_resolver) -> str:
    """POST the topic's current bytes to one subscriber. Returns what happened."""
    with ctx.readers() as session:
        row = session.get(WebSubSubscription, sub_id)
    if row is None:
        return "unsubscribed"
    if row.expires_at <= utcnow():
        with ctx.sessions.begin() as session:
            session.execute(
                delete(WebSubSubscription).where(
                    WebSubSubscription.id == sub_id, WebSubSubscription.expires_at <= utcnow()
                )
            )
        return "expired"
    body = ctx.artifacts.get(keys.feed_artifact(row.feed_key, row.fmt))
    if body is None:
        return "no feed"
    digest = hashlib.sha256(body).hexdigest()
    if digest == row.delivered_sha256:
        return "already delivered"
    headers = {
        "Content-Type": CONTENT_TYPES[row.fmt],
        "Link": link_header(ctx.settings.websub_hub_url, row.topic),
        "User-Agent": USER_AGENT,
    }
    if row.secret:
        headers["X-Hub-Signature"] = signature(row.secret, body)
    # The subscriber's answer body is ignored (WebSub 7), not read.
    answer = delivery.send(
        ctx.settings, "POST", row.callback, read=False, resolver=resolver,
        data=body, headers=headers,
    )  # fmt: skip
    if answer.refused:
        record_failure(ctx, sub_id, f"callback {answer.error}")
        log.warning("websub delivery to %s refused: %s", row.callback, answer.error)
        return "refused"
    if answer.status is None:
        raise NotifyTransient(f"delivering to {row.callback}: {answer.error}")
    status = answer.status
    if 200 <= status < 300:
        with ctx.sessions.begin() as session:
            current = session.get(WebSubSubscription, sub_id)
            if current is not None:
                current.delivered_sha256 = digest
                current.delivered_at = utcnow()
                current.last_error = None
        return "delivered"
    if status == 410:
        # Gone: the subscriber ended the subscription (WebSub 7).
        with ctx.sessions.begin() as session:
            session.execute(delete(WebSubSubscription).where(WebSubSubscription.id == sub_id))
        log.info("websub: %s answered 410; subscription removed", row.callback)
        return "removed"
    if answer.transient:
        raise NotifyTransient(f"{row.callback} answered {status}")
    record_failure(ctx, sub_id, f"{row.callback} answered {status}; delivery given up")
    log.warning("websub delivery to %s answered %s; given up", row.callback, status)
    return "given up"
