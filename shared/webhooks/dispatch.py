"""Change-log rows to deliveries: every change an endpoint subscribes to becomes exactly one
delivery, created in change order.

Each endpoint keeps a cursor, the last change sequence dispatched to it, and it moves in the
transaction that inserts its deliveries: a crash before the commit leaves both as they were,
a second dispatcher waits for the endpoint rows' lock (``FOR UPDATE`` on PostgreSQL; SQLite's
one writer) and then starts from the moved cursor. The change log is gap-safe (a reader that
has passed a sequence never sees an older row commit later, shared.changes), so a cursor
never skips a change. The unique (endpoint, seq) pair is the last guard against a double.

Who gets what: an endpoint of a revoked partner, or of one without ``content:read``, gets
nothing (its cursor still moves, so no backlog floods it later); changes held by an embargo
(audience "embargo") go only to partners with ``embargo:read``, flagged in the payload.
"""

from __future__ import annotations

import base64
import secrets
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shared import changes, partners
from shared.models import ChangeRow, Partner, WebhookDelivery, WebhookEndpoint
from shared.webhooks.states import ENABLED, PENDING

BATCH = 500
MAX_PAGES = 10  # per transaction; the caller runs again when there is more
# A task for a new delivery is sent right after the commit; only if it is lost does the
# sweep (deliveries.due_deliveries) send one again, after this.
QUEUED_FOR = timedelta(minutes=5)


def new_delivery_id() -> str:
    # Standard Webhooks: the webhook-id is unique per message and the same on every retry.
    return "msg_" + base64.b32encode(secrets.token_bytes(15)).decode("ascii").lower()


def wants(endpoint: WebhookEndpoint, partner: Partner | None, change: ChangeRow) -> bool:
    if partner is None or partner.revoked_at is not None:
        return False
    if partners.SCOPE_CONTENT_READ not in partner.scopes:
        return False
    embargoed = change.audience == changes.AUDIENCE_EMBARGO
    if embargoed and partners.SCOPE_EMBARGO_READ not in partner.scopes:
        return False
    return change.op in endpoint.events


def waiting(session: Session) -> bool:
    """Whether any enabled endpoint is behind the change log's head: a read, so that a
    dispatch with nothing to do (no endpoint at all, most of the time) does not take the
    write lock (on SQLite, every ingest POST waits for it)."""
    low = session.scalar(
        select(func.min(WebhookEndpoint.cursor)).where(WebhookEndpoint.status == ENABLED)
    )
    return low is not None and changes.head(session) > low


def dispatch(session: Session, now: datetime) -> tuple[list[str], bool]:
    """Create the deliveries for every change past each enabled endpoint's cursor, in the
    caller's transaction. Returns the new delivery ids in change order, and whether more
    changes wait (call again)."""
    endpoints = list(
        session.scalars(
            select(WebhookEndpoint)
            .where(WebhookEndpoint.status == ENABLED)
            .order_by(WebhookEndpoint.id)
            .with_for_update()
        )
    )
    if not endpoints:
        return [], False
    owners = {
        p.id: p
        for p in session.scalars(
            select(Partner).where(Partner.id.in_({e.partner_id for e in endpoints}))
        )
    }
    created: list[str] = []
    for _page in range(MAX_PAGES):
        low = min(e.cursor for e in endpoints)
        page = changes.read(session, low, BATCH, embargo=True)
        for change in page.changes:
            for endpoint in endpoints:
                if change.seq > endpoint.cursor and wants(
                    endpoint, owners.get(endpoint.partner_id), change
                ):
                    delivery_id = new_delivery_id()
                    session.add(
                        WebhookDelivery(
                            id=delivery_id, endpoint_id=endpoint.id, seq=change.seq,
                            article_id=change.article_id, event=change.op, status=PENDING,
                            attempts=0, next_attempt_at=now, queued_until=now + QUEUED_FOR,
                            created_at=now,
                        )
                    )  # fmt: skip
                    created.append(delivery_id)
        for endpoint in endpoints:
            endpoint.cursor = max(endpoint.cursor, page.last_seq)
        if not page.has_more:
            return created, False
    return created, True
