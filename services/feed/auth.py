"""Authentication for every feed route, in one hook (as ingest.auth): reader routes are
public; a route without a rule in ``RULES`` is closed. The partner routes carry scopes, and
every request made with a key is audited after it is answered (shared.partners.record),
without the key, as on ingest (docs/api.md, Audit)."""

from __future__ import annotations

from flask import Flask, g, jsonify, request

from feed import contract
from shared import access, metrics, openapi, partners
from shared.errors import Problem
from shared.keysecret import secret_bytes
from shared.models import utcnow

RULES = openapi.rules(contract.OPERATIONS)


def principal() -> partners.Principal | None:
    return g.get("principal")


def init_app(app: Flask) -> None:
    ctx = app.extensions["newsflow"]
    # Public routes need no secret; a deployment without one serves readers all the same.
    secret = secret_bytes(ctx.settings) if ctx.settings.key_secret else None

    @app.before_request
    def _authenticate():
        if request.endpoint is None:
            return None  # no route: the router's 404/405 answers
        rule = RULES.get(request.endpoint)
        header = request.headers.get("Authorization")
        if rule == access.METRICS:
            forwarded = any(h in request.headers for h in metrics.FORWARDED_HEADERS)
            refusal = metrics.may_scrape(
                ctx.settings.metrics_token, header, request.remote_addr, forwarded
            )
            if refusal is None:
                return None
            body = Problem(refusal.code, refusal.detail).as_json()
            challenge = {"WWW-Authenticate": access.challenge(None)}
            return jsonify(body), refusal.status, challenge if refusal.status == 401 else {}
        if rule == access.PUBLIC and (secret is None or not header):
            g.principal = None
            return None
        found = access.decide(
            rule, header, request.remote_addr, ctx.sessions, secret or b"", utcnow()
        )
        if isinstance(found, partners.Refusal):
            body = Problem(found.code, found.detail).as_json()
            return jsonify(body), found.status, {"WWW-Authenticate": access.challenge(found, rule)}
        g.principal = found
        return None

    @app.after_request
    def _audit(response):
        who = principal()
        if who is not None:
            partners.record_request(
                ctx.sessions.begin, who, request.method, _route(), response.status_code,
                request.remote_addr,
            )  # fmt: skip
        return response


def _route() -> str:
    # The URL rule, not the path: an audit row names what was called, not the ids in it.
    return request.url_rule.rule if request.url_rule else request.path
