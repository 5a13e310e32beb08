"""Deliveries in the store: the retry schedule, what each outcome does (retry, give up,
disable the endpoint), resending, and the scheduler's sweep for due retries. Times are
passed in (``now``), never mocked."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import select, update

from shared.models import OutboxRow, WebhookDelivery, WebhookEndpoint, utcnow
from shared.tasknames import TASK_WEBHOOK_DELIVER
from shared.webhooks import deliveries, dispatch, endpoints
from shared.webhooks.deliveries import Policy, Result
from tests.shared.webhook_store import (
    BASE,
    SERVER_SECRET,
    log_change,
    new_article,
    new_partner,
    sessions,  # noqa: F401  (the fixture)
)

POLICY = Policy(base_s=5, max_s=4 * 3600, max_attempts=4, disable_after=timedelta(days=5))
UNAVAILABLE = Result(503, "answered 503", transient=True)


def test_the_schedule_grows_fourfold_with_jitter_up_to_the_cap():
    low = [POLICY.delay(n, rand=lambda: 0.0) for n in range(1, 9)]
    high = [POLICY.delay(n, rand=lambda: 1.0) for n in range(1, 9)]
    assert low[:4] == pytest.approx([4.0, 16.0, 64.0, 256.0])  # 5 s x 4^(n-1), -20 %
    assert high[:2] == pytest.approx([6.0, 24.0])  # +20 %
    assert max(high) == pytest.approx(4 * 3600 * 1.2)
    assert low[-1] == pytest.approx(4 * 3600 * 0.8)


def test_retry_after_is_honoured_up_to_the_cap():
    assert POLICY.delay(1, retry_after=120, rand=lambda: 0.5) == pytest.approx(120)
    assert POLICY.delay(1, retry_after=10**9, rand=lambda: 0.5) == pytest.approx(4 * 3600)
    assert POLICY.delay(3, retry_after=1, rand=lambda: 0.5) == pytest.approx(80)  # not sooner


@pytest.fixture(autouse=True)
def no_other_endpoint(sessions):  # noqa: F811
    yield
    with sessions.begin() as session:
        session.execute(update(WebhookEndpoint).values(status="disabled"))


@pytest.fixture
def delivery(sessions):  # noqa: F811
    """A fresh endpoint with one pending delivery; its id."""
    with sessions.begin() as session:
        name = new_partner(session, ["content:read"])
        endpoints.add(session, name, "https://p.example/h", [], SERVER_SECRET, utcnow())
        log_change(session, new_article(session), "published")
        [made], _ = dispatch.dispatch(session, utcnow())
    return made


def claim(sessions, delivery_id, now=None):  # noqa: F811
    with sessions.begin() as session:
        return deliveries.claim(session, delivery_id, now or utcnow(), SERVER_SECRET, BASE)


def record(sessions, delivery_id, result, now):  # noqa: F811
    with sessions.begin() as session:
        return deliveries.record(session, delivery_id, result, now, POLICY)


def state(sessions, delivery_id):  # noqa: F811
    with sessions() as session:
        d = session.get(WebhookDelivery, delivery_id)
        return d, session.get(WebhookEndpoint, d.endpoint_id)


def test_a_claim_gives_the_body_and_secret_and_holds_the_delivery(sessions, delivery):  # noqa: F811
    attempt = claim(sessions, delivery).attempt
    assert attempt.delivery_id == delivery and attempt.attempt == 1
    assert attempt.secrets[0].startswith("whsec_") and b'"sequence":' in attempt.body
    assert claim(sessions, delivery).skipped == "an attempt is in flight"


def test_a_5xx_is_retried_later_and_a_2xx_delivers(sessions, delivery):  # noqa: F811
    now = utcnow()
    claim(sessions, delivery, now)
    next_at = record(sessions, delivery, UNAVAILABLE, now)
    assert timedelta(seconds=4) <= next_at - now <= timedelta(seconds=6)
    d, endpoint = state(sessions, delivery)
    assert (d.status, d.attempts, d.last_status) == ("retrying", 1, 503)
    assert endpoint.failing_since == now
    assert claim(sessions, delivery, now).wait_s == pytest.approx((next_at - now).total_seconds())
    claim(sessions, delivery, next_at)
    assert record(sessions, delivery, Result(200, None, False), next_at) is None
    d, endpoint = state(sessions, delivery)
    assert (d.status, d.attempts, d.last_error) == ("delivered", 2, None)
    assert endpoint.failing_since is None


def test_a_4xx_is_final(sessions, delivery):  # noqa: F811
    claim(sessions, delivery)
    assert record(sessions, delivery, Result(400, "answered 400", False), utcnow()) is None
    d, endpoint = state(sessions, delivery)
    assert (d.status, d.last_status, endpoint.status) == ("failed", 400, "enabled")


def test_a_410_disables_the_endpoint_with_the_reason(sessions, delivery):  # noqa: F811
    claim(sessions, delivery)
    record(sessions, delivery, Result(410, "answered 410", False), utcnow())
    d, endpoint = state(sessions, delivery)
    assert d.status == "failed"
    assert endpoint.status == "disabled" and "410 Gone" in endpoint.disabled_reason


def test_the_attempts_run_out(sessions, delivery):  # noqa: F811
    now = utcnow()
    for _ in range(POLICY.max_attempts):
        claim(sessions, delivery, now)
        next_at = record(sessions, delivery, UNAVAILABLE, now)
        now = next_at or now
    d, _ = state(sessions, delivery)
    assert (d.status, d.attempts) == ("failed", POLICY.max_attempts)
    assert d.last_error.startswith(f"given up after {POLICY.max_attempts} attempts")


def test_an_endpoint_failing_too_long_is_disabled_and_says_why(sessions, delivery):  # noqa: F811
    now = utcnow()
    claim(sessions, delivery, now)
    record(sessions, delivery, UNAVAILABLE, now)
    later = now + POLICY.disable_after
    claim(sessions, delivery, later)
    assert record(sessions, delivery, UNAVAILABLE, later) is None
    d, endpoint = state(sessions, delivery)
    assert d.status == "failed"
    assert endpoint.status == "disabled"
    assert endpoint.disabled_reason.startswith(f"no successful delivery since {now.isoformat()}")


def test_resend_makes_it_pending_again_with_an_outbox_row(sessions, delivery):  # noqa: F811
    claim(sessions, delivery)
    record(sessions, delivery, Result(204, None, False), utcnow())
    with sessions.begin() as session:
        deliveries.resend(session, delivery, utcnow())
    d, _ = state(sessions, delivery)
    assert d.status == "pending" and d.attempts == 1
    with sessions() as session:
        rows = session.scalars(select(OutboxRow).where(OutboxRow.task == TASK_WEBHOOK_DELIVER))
        assert [delivery] in [r.args["args"] for r in rows]


def test_resend_to_a_disabled_endpoint_says_how_to_enable_it(sessions, delivery):  # noqa: F811
    claim(sessions, delivery)
    record(sessions, delivery, Result(410, "answered 410", False), utcnow())
    with sessions.begin() as session, pytest.raises(endpoints.WebhookError) as err:
        deliveries.resend(session, delivery, utcnow())
    assert "newsflow partner webhook enable" in str(err.value)


def test_the_sweep_sends_a_due_retry_once(sessions, delivery):  # noqa: F811
    now = utcnow()
    claim(sessions, delivery, now)
    next_at = record(sessions, delivery, UNAVAILABLE, now)
    ctx = SimpleNamespace(sessions=sessions)

    def swept() -> int:
        with sessions() as session:
            rows = session.scalars(select(OutboxRow).where(OutboxRow.task == TASK_WEBHOOK_DELIVER))
            return sum(r.args["args"] == [delivery] for r in rows)

    assert deliveries.due_deliveries(ctx, now) == next_at  # not due yet: when it will be
    assert swept() == 0
    # Due, and past the time its countdown task would have come (it was lost).
    lost = next_at + dispatch.QUEUED_FOR + timedelta(seconds=1)
    deliveries.due_deliveries(ctx, lost)
    assert swept() == 1
    deliveries.due_deliveries(ctx, lost)  # on its way now: not sent twice
    assert swept() == 1


def test_a_partner_revoked_after_the_delivery_was_made_gets_nothing(sessions, delivery):  # noqa: F811
    from shared import partners
    from shared.models import Partner

    with sessions.begin() as session:
        d = session.get(WebhookDelivery, delivery)
        owner = session.get(Partner, session.get(WebhookEndpoint, d.endpoint_id).partner_id)
        partners.revoke(session, owner.name, utcnow())
    assert claim(sessions, delivery).attempt is None
    d, _ = state(sessions, delivery)
    assert d.status == "failed" and "may no longer receive" in d.last_error


def test_a_secret_sealed_under_another_server_secret_fails_with_the_fix(sessions, delivery):  # noqa: F811
    with sessions.begin() as session:
        claimed = deliveries.claim(session, delivery, utcnow(), b"o" * 32, BASE)
    assert claimed.attempt is None
    d, _ = state(sessions, delivery)
    assert d.status == "failed" and "rotate-secret" in d.last_error


def test_resend_since_takes_a_partners_deliveries_and_skips_disabled_endpoints(sessions):  # noqa: F811
    start = utcnow()
    with sessions.begin() as session:
        names = [new_partner(session, ["content:read"]) for _ in range(3)]
        ids = [
            endpoints.add(session, n, "https://p.example/h", [], SERVER_SECRET, utcnow())
            for n in names
        ]
        log_change(session, new_article(session), "published")
        dispatch.dispatch(session, utcnow())
        endpoints.disable(
            session, session.get(WebhookEndpoint, ids[1].endpoint_id), "test", utcnow()
        )
    with sessions.begin() as session:
        resent, skipped = deliveries.resend_since(session, start, utcnow(), names[0])
        assert len(resent) == 1 and skipped == 0
        assert session.get(WebhookDelivery, resent[0]).endpoint_id == ids[0].endpoint_id
        resent, skipped = deliveries.resend_since(session, start, utcnow(), names[1])
        assert resent == [] and skipped == 1


def test_the_sweep_dispatches_a_change_whose_dispatch_task_was_lost(sessions):  # noqa: F811
    with sessions.begin() as session:
        name = new_partner(session, ["content:read"])
        endpoint_id = endpoints.add(
            session, name, "https://p.example/h", [], SERVER_SECRET, utcnow()
        ).endpoint_id
        log_change(session, new_article(session), "published")  # no dispatch task ran
    deliveries.due_deliveries(SimpleNamespace(sessions=sessions))
    with sessions() as session:
        [made] = session.scalars(
            select(WebhookDelivery.id).where(WebhookDelivery.endpoint_id == endpoint_id)
        ).all()
        rows = session.scalars(select(OutboxRow).where(OutboxRow.task == TASK_WEBHOOK_DELIVER))
        assert [made] in [r.args["args"] for r in rows]
