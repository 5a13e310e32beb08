"""The feed service as its own WebSub hub (W3C WebSub Recommendation, 2018).

``POST /hub`` takes a form-encoded subscription request, checks it at once (a bad request
is a 4xx JSON error naming the ``hub.*`` field), answers ``202 Accepted`` and leaves the
verification of intent to the worker (task ``newsflow.notify.websub_verify``): a GET to the
callback with a challenge that the subscriber must echo. Only a verified request changes
the stored subscriptions, and only the worker writes them; this service stays a reader.

Discovery: every feed answer carries ``Link: <hub>; rel="hub", <self>; rel="self"``
(``feed_links``, wired into the fast path by ``feed.app``), and every feed document names
the hub too.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit

from flask import Blueprint, Flask, current_app, jsonify, request

from feed.broker import CelerySender, Sender, make_celery_client
from feed.context import FeedContext
from shared import keys, netguard
from shared.errors import Problem
from shared.settings import Settings
from shared.tasknames import TASK_WEBSUB_VERIFY

log = logging.getLogger(__name__)

HUB_PATH = "/hub"
# Leases (hub.lease_seconds): what a subscriber asks for is clamped into [MIN, MAX].
LEASE_DEFAULT = 10 * 24 * 3600
LEASE_MIN = 3600
LEASE_MAX = 30 * 24 * 3600
MAX_SECRET_BYTES = 199  # "MUST be less than 200 bytes" (WebSub 5.1)
MAX_URL_CHARS = 2000
MAX_REQUEST_BYTES = 16 * 1024
MODES = ("subscribe", "unsubscribe")

bp = Blueprint("websub", __name__)


def own_hub(settings: Settings) -> bool:
    """True when the hub our feeds name is this service's own ``/hub``."""
    return settings.websub_hub_url.rstrip("/") == f"{settings.public_base_url}{HUB_PATH}"


def link_header(hub: str, self_url: str) -> str:
    """RFC 8288 ``Link`` value naming the hub and the canonical URL of the topic."""
    links = [f'<{self_url}>; rel="self"']
    if hub:
        links.insert(0, f'<{hub}>; rel="hub"')
    return ", ".join(links)


def feed_links(settings: Settings) -> Callable[[str], str]:
    """The fast path's ``links``: WSGI hands over PATH_INFO as latin-1 text of the raw bytes;
    the self URL is the public base plus that path, percent-encoded again (UTF-8 bytes), the
    same spelling the feed documents use for their own ``rel="self"``."""
    base, hub = settings.public_base_url, settings.websub_hub_url

    def links(path: str) -> str:
        try:
            raw = path.encode("latin-1")
        except UnicodeEncodeError:
            raw = path.encode("utf-8")
        return link_header(hub, base + quote(raw, safe="/"))

    return links


def canonical_topic(base: str, feed_key: str, fmt: str) -> str:
    return f"{base}{keys.feed_path(feed_key, fmt)}"


class HubError(Exception):
    def __init__(self, status: int, error: str, detail: str, field: str | None) -> None:
        super().__init__(detail)
        self.status, self.error, self.detail, self.field = status, error, detail, field


@dataclass(frozen=True)
class HubRequest:
    mode: str
    feed_key: str
    fmt: str
    topic: str  # as the subscriber wrote it: echoed in the verification request
    callback: str
    lease_seconds: int
    secret: str | None

    def task_args(self) -> list:
        return [
            self.mode,
            self.feed_key,
            self.fmt,
            self.topic,
            self.callback,
            self.lease_seconds,
            self.secret,
            # When the hub took the request: verifications run in parallel and may finish in
            # any order, and only the newest request for a subscription may be applied.
            time.time(),
        ]


def parse_topic(base: str, topic: str) -> tuple[str, str] | None:
    """(feed_key, fmt) when ``topic`` is one of our feed URLs (percent-encoded or not)."""
    prefix = f"{base}/"
    if topic[: len(prefix)].lower() != prefix.lower():
        return None
    rest = topic[len(prefix) :]
    if "?" in rest or "#" in rest:
        return None
    try:
        path = unquote(rest, errors="strict")
    except UnicodeDecodeError:
        return None
    if not path.startswith("feeds/"):
        return None
    return keys.feed_for_path(path.removeprefix("feeds/"))


def _bad(field: str, detail: str, error: str = "invalid_parameter") -> HubError:
    return HubError(400, error, detail, field)


def check_request(
    form: Mapping[str, str],
    *,
    base: str,
    allow_hosts: Iterable[str],
    topic_exists: Callable[[str, str], bool],
    secure: bool = False,
    resolver: netguard.Resolver = netguard.system_resolver,
) -> HubRequest:
    """The decision on a hub request, without Flask: a HubRequest or a HubError (4xx).

    ``secure``: the request reached us over HTTPS (or the hub's public URL is https)."""
    allow_hosts = frozenset(allow_hosts)
    mode = form.get("hub.mode", "")
    if not mode:
        raise _bad("hub.mode", "hub.mode is required", "missing_parameter")
    if mode == "publish":
        raise _bad("hub.mode", "this hub announces its own feeds; it takes no publish pings")
    if mode not in MODES:
        raise _bad("hub.mode", f"hub.mode must be subscribe or unsubscribe, not {mode[:50]!r}")

    topic = form.get("hub.topic", "")
    if not topic:
        raise _bad("hub.topic", "hub.topic is required", "missing_parameter")
    parsed = parse_topic(base, topic) if len(topic) <= MAX_URL_CHARS else None
    if parsed is None:
        raise _bad("hub.topic", f"hub.topic must be one of the feeds under {base}/feeds/")
    feed_key, fmt = parsed
    if mode == "subscribe" and not topic_exists(feed_key, fmt):
        raise HubError(404, "unknown_topic", "no feed is published at hub.topic", "hub.topic")

    callback = form.get("hub.callback", "")
    if not callback:
        raise _bad("hub.callback", "hub.callback is required", "missing_parameter")
    if len(callback) > MAX_URL_CHARS:
        raise _bad("hub.callback", f"hub.callback is longer than {MAX_URL_CHARS} characters")
    if "#" in callback:
        raise _bad("hub.callback", "hub.callback must not have a fragment")
    try:
        netguard.check_url(callback, allow_hosts, resolver)
    except ValueError as exc:
        raise _bad("hub.callback", f"hub.callback is refused: {exc}", "refused_callback") from None

    lease = LEASE_DEFAULT
    raw_lease = form.get("hub.lease_seconds", "").strip()
    if raw_lease and mode == "subscribe":
        if not raw_lease.isascii() or not raw_lease.isdigit() or len(raw_lease) > 12:
            raise _bad("hub.lease_seconds", "hub.lease_seconds must be a whole number of seconds")
        lease = min(max(int(raw_lease), LEASE_MIN), LEASE_MAX)

    secret = form.get("hub.secret") or None
    if secret is not None and mode == "subscribe":
        if len(secret.encode("utf-8")) > MAX_SECRET_BYTES:
            raise _bad("hub.secret", "hub.secret must be less than 200 bytes")
        host = (urlsplit(callback).hostname or "").lower()
        if not (secure or callback.lower().startswith("https:") or host in allow_hosts):
            raise _bad(
                "hub.secret",
                "hub.secret is accepted only over HTTPS (the hub or the callback); "
                "a secret sent in the clear protects nothing",
            )
    if mode == "unsubscribe":
        secret = None
    return HubRequest(mode, feed_key, fmt, topic, callback, lease, secret)


def _ctx() -> FeedContext:
    return current_app.extensions["newsflow"]


def _error(exc: HubError):
    return jsonify(Problem(exc.error, exc.detail, exc.field).as_json()), exc.status


def _body_fits(limit: int) -> bool:
    """Whether the body is at most ``limit`` bytes, chunked or not; it stays cached for
    ``request.form``. Werkzeug cuts a chunked body at the limit without a word (its stream
    stops there), and the form would be parsed from what was cut, so the stream may run one
    byte past the limit and a body that reaches it is refused."""
    if (request.content_length or 0) > limit:
        return False
    request.max_content_length = limit + 1
    return len(request.get_data(cache=True)) <= limit


@bp.post(HUB_PATH)
def hub():
    settings = _ctx().settings
    if not own_hub(settings):
        detail = f"these feeds name {settings.websub_hub_url} as their hub; subscribe there"
        return _error(HubError(404, "not_the_hub", detail, None))
    if not _body_fits(MAX_REQUEST_BYTES):
        detail = f"a hub request is a few form fields, at most {MAX_REQUEST_BYTES} bytes"
        return _error(HubError(413, "too_large", detail, None))
    if request.mimetype not in ("application/x-www-form-urlencoded", "multipart/form-data"):
        detail = "send the hub.* parameters form-encoded (application/x-www-form-urlencoded)"
        return _error(HubError(415, "unsupported_media_type", detail, None))
    artifacts = _ctx().artifacts

    def topic_exists(feed_key: str, fmt: str) -> bool:
        # Through the cache: on a remote store it is one round trip per interval, not per
        # hub request (BadKey is "no such feed" there).
        return artifacts.get(keys.feed_artifact(feed_key, fmt)) is not None

    try:
        req = check_request(
            request.form,
            base=settings.public_base_url,
            allow_hosts=settings.fetch_allow_hosts,
            topic_exists=topic_exists,
            secure=request.is_secure or settings.public_base_url.startswith("https:"),
        )
    except HubError as exc:
        return _error(exc)
    sender: Sender = current_app.extensions["newsflow.sender"]
    try:
        sender(TASK_WEBSUB_VERIFY, req.task_args())
    except Exception as exc:
        log.warning("cannot queue the verification of %s: %s", req.callback, exc)
        detail = "the hub cannot take requests right now; try again shortly"
        return _error(HubError(503, "unavailable", detail, None))
    body = {
        "mode": req.mode,
        "topic": canonical_topic(settings.public_base_url, req.feed_key, req.fmt),
        "callback": req.callback,
        "leaseSeconds": req.lease_seconds if req.mode == "subscribe" else None,
        "status": "pending verification of intent",
    }
    return jsonify(body), 202


def init_app(app: Flask, sender: Sender | None = None) -> None:
    if sender is None:
        settings: Settings = app.extensions["newsflow"].settings
        sender = CelerySender(make_celery_client(settings.redis_url))
    app.extensions["newsflow.sender"] = sender
    app.register_blueprint(bp)
