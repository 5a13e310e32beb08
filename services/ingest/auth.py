"""Authentication for every ingest route, in one hook: views never look at keys.

Each endpoint has a rule in ``RULES`` (shared.access); the hook authenticates the bearer key,
checks the rule's scope and leaves the principal in ``g.principal`` for the views' per-object
decisions (which sources a key may write, which articles it may read). Every request made
with a key is audited after it is answered (shared.partners.record), without the key.
"""

from __future__ import annotations

from flask import Flask, g, request

from ingest import contract
from shared import access, metrics, openapi, partners
from shared.errors import Problem, ProblemError
from shared.keysecret import secret_bytes
from shared.models import utcnow

# One declaration per route (ingest.contract): documented and guarded alike.
RULES = openapi.rules(contract.OPERATIONS)


def principal() -> partners.Principal | None:
    return g.get("principal")


def audit_article(article_id: str, version: int | None) -> None:
    """Name the article (and version) a request touched, for its audit row."""
    g.audit_article = (article_id, version)


def _metrics_access(token: str) -> None:
    forwarded = any(h in request.headers for h in metrics.FORWARDED_HEADERS)
    refusal = metrics.may_scrape(
        token, request.headers.get("Authorization"), request.remote_addr, forwarded
    )
    if refusal is not None:
        raise ProblemError(
            Problem(refusal.code, refusal.detail),
            refusal.status,
            headers={"WWW-Authenticate": access.challenge(None)} if refusal.status == 401 else None,
        )


def init_app(app: Flask) -> None:
    ctx = app.extensions["newsflow"]
    secret = secret_bytes(ctx.settings)

    @app.before_request
    def _authenticate():
        if request.endpoint is None:
            return None  # no route: the router's 404/405 answers
        rule = RULES.get(request.endpoint)
        if rule == access.METRICS:
            _metrics_access(ctx.settings.metrics_token)
            return None
        found = access.decide(
            rule,
            request.headers.get("Authorization"),
            request.remote_addr,
            ctx.readers,
            secret,
            utcnow(),
        )
        if isinstance(found, partners.Refusal):
            raise ProblemError(
                Problem(found.code, found.detail),
                found.status,
                headers={"WWW-Authenticate": access.challenge(found, rule)},
            )
        g.principal = found
        return None

    @app.after_request
    def _audit(response):
        who = principal()
        if who is not None:
            article_id, version = g.get("audit_article", (None, None))
            partners.record_request(
                ctx.sessions.begin, who, request.method, _route(), response.status_code,
                request.remote_addr, article_id, version,
            )  # fmt: skip
        return response


def require_write(source: str) -> None:
    """A key writes only the sources it is bound to (``partner add --sources``)."""
    who = principal()
    if who is None or not who.may_write(source):
        bound = ", ".join(sorted(who.sources)) if who and who.sources else "none"
        raise ProblemError(
            Problem(
                "source_not_allowed",
                f"this key may not write source {source!r} (its sources: {bound})",
                "source",
            ),
            403,
        )


def may_read(source: str) -> bool:
    """An article's status is for an admin key or a key that may write its source."""
    who = principal()
    return who is not None and (who.may(partners.SCOPE_ADMIN) or who.may_write(source))


def may_see_embargoed() -> bool:
    who = principal()
    return who is not None and who.may(partners.SCOPE_EMBARGO_READ)


def _route() -> str:
    # The URL rule, not the path: an audit row names what was called, not the ids in it.
    return request.url_rule.rule if request.url_rule else request.path
