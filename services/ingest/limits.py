"""Rate limits per key (per client address for requests without one), counted in Redis by
flask-limiter so every ingest process shares them.

The answer to a request over the limit is ``429`` with ``Retry-After`` (RFC 9110 10.2.3),
and every limited answer carries the IETF httpapi draft's ``RateLimit-Policy`` and
``RateLimit`` fields (draft-ietf-httpapi-ratelimit-headers: a policy item with its quota
``q`` and window ``w``; the remaining ``r`` and seconds to reset ``t``).

When Redis cannot be reached the limits fail open (flask-limiter's ``swallow_errors``, which
logs "Failed to rate limit. Swallowing error" for each such request): a
write is safe without them, the outbox already absorbs the outage, and a limiter that
turned a broker outage into refused articles would lose news.
Redis is asked with short timeouts, so a hung Redis costs a request at most ~0.2 s here.
"""

from __future__ import annotations

import math
import time

from flask import Flask, g, jsonify, make_response, request
from flask_limiter import Limiter, RequestLimit
from limits import parse

from shared.errors import Problem
from shared.redisurl import to_redis_py

POLICY = "default"


def _storage_uri(redis_url: str) -> str:
    url = to_redis_py(redis_url)
    if url.startswith("unix://"):
        return "redis+unix://" + url[len("unix://") :]
    return url


def _key() -> str:
    who = g.get("principal")
    return f"key:{who.key_id}" if who is not None else f"addr:{request.remote_addr}"


def init_app(app: Flask) -> Limiter:
    settings = app.extensions["newsflow"].settings
    parse(settings.rate_limit)  # a malformed RATE_LIMIT stops start-up, not every request

    def limit() -> str:
        who = g.get("principal")
        return (who.rate_limit if who is not None else None) or settings.rate_limit

    def breached(limit: RequestLimit):
        # The answer flask-limiter sends instead of its own (which has no JSON body).
        retry = _seconds_left(limit) or 1
        problem = Problem(
            "too_many_requests", f"more than {limit.limit} for this key; retry in {retry} s"
        )
        return make_response(
            jsonify(problem.as_json()), 429, {"Retry-After": str(retry), **_fields(limit)}
        )

    limiter = Limiter(
        _key,
        app=app,
        default_limits=[limit],
        # Health checks come from the orchestrator every few seconds; never refuse them.
        default_limits_exempt_when=lambda: request.endpoint == "ingest.healthz",
        storage_uri=_storage_uri(settings.redis_url),
        storage_options={"socket_timeout": 0.2, "socket_connect_timeout": 0.2},
        strategy="moving-window",
        swallow_errors=True,
        headers_enabled=False,  # our own fields below (flask-limiter writes X-RateLimit-*)
        on_breach=breached,
        key_prefix="newsflow:ratelimit",
    )

    @app.after_request
    def _headers(response):
        current = limiter.current_limit
        if current is not None:
            for name, value in _fields(current).items():
                response.headers.setdefault(name, value)
        return response

    return limiter


def _seconds_left(limit: RequestLimit) -> int:
    # reset_at is whole seconds, so the ceiling can pass the window by one: clamp it.
    window = limit.limit.get_expiry()
    return max(0, min(window, math.ceil(limit.reset_at - time.time())))


def _fields(limit: RequestLimit) -> dict[str, str]:
    window = limit.limit.get_expiry()
    reset = _seconds_left(limit)
    return {
        "RateLimit-Policy": f'"{POLICY}";q={limit.limit.amount};w={window}',
        "RateLimit": f'"{POLICY}";r={max(0, limit.remaining)};t={reset}',
    }
