"""Authentication for every feed route, in one hook (as ingest.auth): reader routes are
public; a route without a rule in ``RULES`` is closed. The partner routes carry scopes, and
every request made with a key is audited after it is answered (shared.partners.record),
without the key, as on ingest (docs/api.md, Audit)."""

from __future__ import annotations

import logging

from flask import Flask, g, jsonify, request

from feed import contract
from shared import access, metrics, openapi, partners
from shared.errors import Problem
from shared.keysecret import secret_bytes
from shared.models import utcnow

log = logging.getLogger(__name__)

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
            try:
                with ctx.sessions.begin() as session:
                    partners.record(
                        session,
                        partner_id=who.partner_id,
                        key_id=who.key_id,
                        method=request.method,
                        route=(request.url_rule.rule if request.url_rule else request.path)[:200],
                        status=response.status_code,
                        client=(request.remote_addr or "")[:64] or None,
                    )
            except Exception:
                # The answer stands; a lost audit row is logged (without the key), not a 500.
                log.exception("audit row for partner %s not written", who.partner)
        return response
