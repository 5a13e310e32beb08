"""Who may call a route: the decision every service's ``auth.init_app`` hook makes, without
Flask. A service lists each of its endpoints with what it requires (``PUBLIC``, ``ANY_KEY``
or a scope); an endpoint that is not listed is refused, so a route added without a rule is
closed, not open.

Bearer tokens as RFC 6750: ``Authorization: Bearer <key>``; a missing or bad token is 401
with ``WWW-Authenticate: Bearer`` (and ``error="invalid_token"`` when one was presented), a
token without the scope is 403 ``insufficient_scope`` (section 3.1).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy.orm import Session

from shared import partners
from shared.partners import Principal, Refusal

PUBLIC = "public"  # readers' routes: pages, feeds, media, hub, health, the contract itself
ANY_KEY = "any-key"  # any valid key; the view decides per object (e.g. an article's status)
# /metrics: not a partner route; loopback callers, or the METRICS_TOKEN (shared.metrics).
METRICS = "metrics"

REALM = "newsflow"


def challenge(refusal: Refusal | None, scope: str | None = None) -> str:
    """The WWW-Authenticate value for a refusal (RFC 6750 section 3)."""
    value = f'Bearer realm="{REALM}"'
    if refusal is None:
        return value
    if refusal.code == "insufficient_scope":
        return f'{value}, error="insufficient_scope", scope="{scope}"'
    if refusal.status == 401 and refusal.code != "missing_key":
        return f'{value}, error="invalid_token"'
    return value


def bearer_token(header: str | None) -> str | Refusal | None:
    """The token of an ``Authorization: Bearer`` header; None when there is none."""
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return Refusal(
            401, "invalid_authorization", "send the key as `Authorization: Bearer <key>`"
        )
    return token.strip()


def decide(
    requirement: str | None,
    header: str | None,
    client: str | None,
    sessions: Callable[[], Session],
    secret: bytes,
    now: datetime,
) -> Principal | Refusal | None:
    """The principal a request runs as (None: an anonymous request to a public route), or
    why it is refused."""
    if requirement is None:
        # Closed by default: a route nobody gave a rule is a mistake, refused until fixed.
        return Refusal(403, "no_access_rule", "this route has no access rule; it is closed")
    token = bearer_token(header)
    if isinstance(token, Refusal):
        return token
    if token is None:
        if requirement == PUBLIC:
            return None
        return Refusal(401, "missing_key", "this route needs an API key: Authorization: Bearer")
    with sessions() as session:
        found = partners.authenticate(session, token, client, secret, now)
    if isinstance(found, Refusal) or requirement in (PUBLIC, ANY_KEY):
        return found
    if not found.may(requirement):
        return Refusal(
            403,
            "insufficient_scope",
            f"key {found.key_id} (partner {found.partner}) lacks the scope {requirement}",
        )
    return found
