"""A partner's webhook endpoints: add, list, remove, rotate the secret, enable again.

The URL is checked by the caller with the address guard (shared.netguard) before it gets
here, and again by the worker at every attempt (a host's DNS may change meanwhile). A new
endpoint starts at the change log's head: it gets the changes made from now on (the pull API
serves the history).
"""

from __future__ import annotations

import base64
import secrets as _random
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from shared import changes, partners
from shared.models import Partner, WebhookDelivery, WebhookEndpoint
from shared.webhooks import secretbox
from shared.webhooks.states import DISABLED, ENABLED, FAILED, WAITING

MAX_URL = 2000
# Standard Webhooks lets a sender put several signatures in one header: during this grace
# after a rotation, each delivery is signed with the new and the old secret, so a partner
# can switch its verifier over without losing a delivery.
DEFAULT_GRACE = timedelta(hours=24)


class WebhookError(ValueError):
    """A request about webhooks that cannot be done; the message says why."""


@dataclass(frozen=True)
class NewSecret:
    endpoint_id: str
    partner: str
    url: str
    events: list[str]
    secret: str  # shown once
    previous_until: datetime | None = None


def _new_id() -> str:
    return "ep_" + base64.b32encode(_random.token_bytes(10)).decode("ascii").lower()


def check_events(events: list[str]) -> list[str]:
    if not events:
        return list(changes.OPS)
    unknown = sorted(set(events) - set(changes.OPS))
    if unknown:
        raise WebhookError(
            f"unknown event(s) {', '.join(unknown)}; choose from {', '.join(changes.OPS)}"
        )
    return [op for op in changes.OPS if op in events]  # in a stable order


def add(
    session: Session,
    partner_name: str,
    url: str,
    events: list[str],
    server_secret: bytes,
    now: datetime,
) -> NewSecret:
    try:
        p = partners.find_partner(session, partner_name)
    except partners.PartnerError as exc:
        raise WebhookError(str(exc)) from None
    if p.revoked_at is not None:
        raise WebhookError(f"partner {p.name} is revoked")
    if partners.SCOPE_CONTENT_READ not in p.scopes:
        raise WebhookError(
            f"partner {p.name} lacks the {partners.SCOPE_CONTENT_READ} scope that webhooks "
            "carry content under"
        )
    if len(url) > MAX_URL:
        raise WebhookError(f"the URL is longer than {MAX_URL} characters")
    wanted = check_events(events)
    endpoint_id, secret = _new_id(), secretbox.new_secret()
    session.add(
        WebhookEndpoint(
            id=endpoint_id, partner_id=p.id, url=url, events=wanted,
            secret=secretbox.seal(server_secret, endpoint_id, secret),
            cursor=changes.head(session), status=ENABLED, created_at=now,
        )
    )  # fmt: skip
    session.flush()
    return NewSecret(endpoint_id, p.name, url, wanted, secret)


def find(session: Session, endpoint_id: str) -> WebhookEndpoint:
    endpoint = session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None:
        raise WebhookError(
            f"no webhook endpoint {endpoint_id!r} (see `newsflow partner webhook list`)"
        )
    return endpoint


def of_partner(session: Session, partner_name: str | None) -> list[tuple[str, WebhookEndpoint]]:
    """(partner name, endpoint) pairs, of one partner or of all."""
    query = (
        select(Partner.name, WebhookEndpoint)
        .join(Partner, Partner.id == WebhookEndpoint.partner_id)
        .order_by(Partner.name, WebhookEndpoint.created_at)
    )
    if partner_name is not None:
        try:
            p = partners.find_partner(session, partner_name)
        except partners.PartnerError as exc:
            raise WebhookError(str(exc)) from None
        query = query.where(WebhookEndpoint.partner_id == p.id)
    return [(name, endpoint) for name, endpoint in session.execute(query)]


def remove(session: Session, endpoint_id: str) -> WebhookEndpoint:
    endpoint = find(session, endpoint_id)
    session.query(WebhookDelivery).filter(WebhookDelivery.endpoint_id == endpoint_id).delete()
    session.delete(endpoint)
    return endpoint


def rotate(
    session: Session,
    endpoint_id: str,
    server_secret: bytes,
    now: datetime,
    grace: timedelta = DEFAULT_GRACE,
) -> NewSecret:
    endpoint = find(session, endpoint_id)
    secret = secretbox.new_secret()
    if grace > timedelta(0):
        endpoint.previous_secret = endpoint.secret
        endpoint.previous_until = now + grace
    else:
        endpoint.previous_secret = endpoint.previous_until = None
    endpoint.secret = secretbox.seal(server_secret, endpoint_id, secret)
    name = session.get(Partner, endpoint.partner_id).name
    return NewSecret(
        endpoint_id, name, endpoint.url, endpoint.events, secret, endpoint.previous_until
    )


def signing_secrets(endpoint: WebhookEndpoint, server_secret: bytes, now: datetime) -> list[str]:
    """The secrets every attempt is signed with: the current one, and the previous one
    while its rotation's grace lasts."""
    out = [secretbox.unseal(server_secret, endpoint.id, endpoint.secret)]
    if endpoint.previous_secret and endpoint.previous_until and endpoint.previous_until > now:
        out.append(secretbox.unseal(server_secret, endpoint.id, endpoint.previous_secret))
    return out


def disable(session: Session, endpoint: WebhookEndpoint, reason: str, now: datetime) -> None:
    """Stop sending to it; its deliveries still waiting fail with the reason (a partner can
    have them sent again with ``partner resend`` once it is enabled)."""
    endpoint.status = DISABLED
    endpoint.disabled_reason = reason[:2000]
    endpoint.disabled_at = now
    session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.endpoint_id == endpoint.id,
            WebhookDelivery.status.in_(WAITING),
        )
        .values(
            status=FAILED, next_attempt_at=None, last_error=f"endpoint disabled: {reason}"[:2000]
        )
    )


def enable(session: Session, endpoint_id: str) -> WebhookEndpoint:
    """Send to it again. The changes made while it was disabled follow, in order (its
    cursor stayed where it was)."""
    endpoint = find(session, endpoint_id)
    endpoint.status = ENABLED
    endpoint.disabled_reason = endpoint.disabled_at = endpoint.failing_since = None
    return endpoint
