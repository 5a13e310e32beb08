"""Webhooks on the worker: dispatch new changes to deliveries, and make one attempt.

- ``dispatch``: after a change commits, the render tasks send TASK_WEBHOOKS_DISPATCH; it
  turns the change log's new rows into deliveries (shared.webhooks.dispatch) and sends one
  TASK_WEBHOOK_DELIVER per delivery at once, so the first attempt does not wait for any
  scheduler.
- ``deliver``: claim the delivery, POST it through ``render.delivery`` (the address guard
  and pinned connection WebSub and image fetches use) with the Standard Webhooks headers,
  record the outcome. A retry due within ``COUNTDOWN_MAX_S`` is sent again with a Celery
  countdown; later ones wait in the store for the scheduler's sweep
  (``shared.webhooks.deliveries.due_deliveries``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from render import delivery
from render.context import RenderContext
from render.fetch import Resolver, system_resolver
from shared import keysecret
from shared.models import utcnow
from shared.tasknames import TASK_WEBHOOK_DELIVER
from shared.webhooks import deliveries, secretbox
from shared.webhooks import dispatch as dispatching

log = logging.getLogger(__name__)

USER_AGENT = "newsflow-webhooks/1 (+https://www.standardwebhooks.com/)"


def dispatch(ctx: RenderContext, send: Callable[[str, list], None]) -> tuple[int, bool]:
    """New changes to deliveries; one delivery task each. Returns how many were made and
    whether more changes wait. A send that fails leaves its delivery to the sweep."""
    with ctx.readers() as session:
        if not dispatching.waiting(session):
            return 0, False
    with ctx.sessions.begin() as session:
        created, more = dispatching.dispatch(session, utcnow())
    for delivery_id in created:
        try:
            send(TASK_WEBHOOK_DELIVER, [delivery_id])
        except Exception as exc:  # the broker is away: the sweep sends it later
            log.warning("webhook delivery %s not sent yet: %s", delivery_id, type(exc).__name__)
    return len(created), more


def headers(attempt: deliveries.Attempt, timestamp: int) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "webhook-id": attempt.delivery_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": secretbox.signature_header(
            attempt.secrets, attempt.delivery_id, timestamp, attempt.body
        ),
    }


def deliver(
    ctx: RenderContext,
    delivery_id: str,
    later: Callable[[float], None],
    resolver: Resolver = system_resolver,
) -> str:
    """One attempt of one delivery. ``later(seconds)`` sends this task again with a
    countdown. Returns what happened (for the worker's log)."""
    server_secret = keysecret.secret_bytes(ctx.settings)
    with ctx.sessions.begin() as session:
        claim = deliveries.claim(
            session, delivery_id, utcnow(), server_secret, ctx.settings.public_base_url
        )
    if claim.wait_s is not None:
        if claim.wait_s <= deliveries.COUNTDOWN_MAX_S + 1:
            later(claim.wait_s)
        return claim.skipped or "not due"
    if claim.attempt is None:
        return claim.skipped or "nothing to do"
    attempt = claim.attempt
    # A fresh timestamp on every attempt: receivers reject old ones (Standard Webhooks
    # suggests a 5-minute tolerance against replays), and a retry may come hours later.
    sent_at = utcnow()
    reply = delivery.send(
        ctx.settings, "POST", attempt.url, read=None, resolver=resolver,
        data=attempt.body, headers=headers(attempt, int(sent_at.timestamp())),
    )  # fmt: skip
    result = deliveries.Result(reply.status, _error(reply), reply.transient, reply.retry_after)
    policy = deliveries.Policy.from_settings(ctx.settings)
    with ctx.sessions.begin() as session:
        next_at = deliveries.record(session, delivery_id, result, utcnow(), policy)
    if result.ok:
        return "delivered"
    log.info(
        "webhook %s attempt %d to %s: %s", delivery_id, attempt.attempt, attempt.url,
        result.error,
    )  # fmt: skip
    if next_at is None:
        return "failed"
    wait = (next_at - utcnow()).total_seconds()
    if wait <= deliveries.COUNTDOWN_MAX_S:
        later(max(wait, 0.0))
    return "retrying"


def _error(reply: delivery.Reply) -> str | None:
    if reply.ok:
        return None
    if reply.status is None:
        return reply.error
    text = f"answered {reply.status}"
    if reply.body:
        # A partner's words about why, cut short and on one line for the log table.
        snippet = reply.body[:200].decode("utf-8", "replace")
        text += ": " + " ".join(snippet.split())
    return text
