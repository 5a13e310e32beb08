"""The dispatcher: each change becomes exactly one delivery per endpoint that wants it, in
change order; embargoed changes go only to embargo:read partners."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from shared import changes
from shared.models import WebhookDelivery, WebhookEndpoint, utcnow
from shared.webhooks import dispatch, endpoints
from tests.shared.webhook_store import (
    SERVER_SECRET,
    log_change,
    new_article,
    new_partner,
    sessions,  # noqa: F401  (the fixture)
)


@pytest.fixture(autouse=True)
def no_other_endpoint(sessions):  # noqa: F811
    yield
    with sessions.begin() as session:
        session.execute(update(WebhookEndpoint).values(status="disabled"))


def endpoint(sessions, scopes, events=()):  # noqa: F811
    with sessions.begin() as session:
        name = new_partner(session, scopes)
        return endpoints.add(session, name, "https://p.example/h", list(events), SERVER_SECRET,
                             utcnow()).endpoint_id  # fmt: skip


def run(sessions):  # noqa: F811
    with sessions.begin() as session:
        return dispatch.dispatch(session, utcnow())


def made(sessions, endpoint_id):  # noqa: F811
    with sessions() as session:
        return [
            (d.seq, d.event)
            for d in session.scalars(
                select(WebhookDelivery)
                .where(WebhookDelivery.endpoint_id == endpoint_id)
                .order_by(WebhookDelivery.seq)
            )
        ]


def test_each_change_after_the_endpoint_was_added_once_in_order(sessions):  # noqa: F811
    with sessions.begin() as session:
        log_change(session, new_article(session), changes.OP_PUBLISHED)  # before: not sent
    ep = endpoint(sessions, ["content:read"])
    with sessions.begin() as session:
        row = new_article(session)
        seqs = [log_change(session, row, op).seq for op in ("published", "updated", "withdrawn")]
    with sessions() as session:
        assert dispatch.waiting(session)
    created, more = run(sessions)
    assert len(created) == 3 and not more
    with sessions() as session:
        assert not dispatch.waiting(session)
    ops = ["published", "updated", "withdrawn"]
    assert made(sessions, ep) == list(zip(seqs, ops, strict=True))
    assert run(sessions) == ([], False)  # nothing twice
    assert len(made(sessions, ep)) == 3


def test_embargoed_changes_only_to_embargo_read_partners(sessions):  # noqa: F811
    seer = endpoint(sessions, ["content:read", "embargo:read"])
    plain = endpoint(sessions, ["content:read"])
    with sessions.begin() as session:
        row = new_article(session)
        held = log_change(session, row, "published", changes.AUDIENCE_EMBARGO).seq
        released = log_change(session, row, "released").seq
    run(sessions)
    assert made(sessions, seer) == [(held, "published"), (released, "released")]
    assert made(sessions, plain) == [(released, "released")]


def test_an_endpoint_gets_only_its_events(sessions):  # noqa: F811
    ep = endpoint(sessions, ["content:read"], events=["withdrawn"])
    with sessions.begin() as session:
        row = new_article(session)
        log_change(session, row, "published")
        gone = log_change(session, row, "withdrawn").seq
    run(sessions)
    assert made(sessions, ep) == [(gone, "withdrawn")]


def test_a_revoked_partner_gets_nothing_and_its_cursor_still_moves(sessions):  # noqa: F811
    ep = endpoint(sessions, ["content:read"])
    with sessions.begin() as session:
        e = session.get(WebhookEndpoint, ep)
        name = session.scalar(
            select(endpoints.Partner.name).where(endpoints.Partner.id == e.partner_id)
        )
        endpoints.partners.revoke(session, name, utcnow())
        row = new_article(session)
        seq = log_change(session, row, "published").seq
    run(sessions)
    assert made(sessions, ep) == []
    with sessions() as session:
        assert session.get(WebhookEndpoint, ep).cursor >= seq


def test_a_disabled_endpoint_catches_up_in_order_once_enabled(sessions):  # noqa: F811
    ep = endpoint(sessions, ["content:read"])
    with sessions.begin() as session:
        endpoints.disable(session, session.get(WebhookEndpoint, ep), "test", utcnow())
        row = new_article(session)
        seqs = [log_change(session, row, op).seq for op in ("published", "updated")]
    run(sessions)
    assert made(sessions, ep) == []
    with sessions.begin() as session:
        endpoints.enable(session, ep)
    run(sessions)
    assert made(sessions, ep) == list(zip(seqs, ["published", "updated"], strict=True))
