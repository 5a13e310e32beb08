"""Partners and keys in the store (SQLite and PostgreSQL): issue, verify, expire, rotate,
revoke, allowlists, and what is kept of a key (its keyed hash only)."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select, text

from shared import partners
from shared.db import make_sessionmaker
from shared.models import ApiKey, utcnow
from shared.partners import PartnerError, Principal, Refusal

SECRET = b"s" * 48


@pytest.fixture
def sessions(engine):
    return make_sessionmaker(engine)


def name() -> str:
    return f"p-{uuid.uuid4().hex[:10]}"


def create(sessions, **kw):
    kw.setdefault("scopes", ["ingest:write"])
    with sessions.begin() as session:
        return partners.create_partner(session, kw.pop("name", name()), secret=SECRET, **kw)


def auth(sessions, key, client="127.0.0.1", now=None, secret=SECRET):
    with sessions() as session:
        return partners.authenticate(session, key, client, secret, now or utcnow())


def test_a_key_has_a_visible_prefix_and_256_random_bits(sessions):
    new = create(sessions)
    m = re.fullmatch(r"nf_live_([a-z2-7]{16})_([A-Za-z0-9_-]{43})", new.key)
    assert m, new.key
    assert m[1] == new.key_id
    # 43 base64url characters carry 258 bits; token_urlsafe(32) draws 256.
    assert len(m[2]) * 6 >= 256


def test_two_keys_differ(sessions):
    assert create(sessions).key != create(sessions).key


def test_only_a_keyed_hash_is_stored(sessions, engine):
    new = create(sessions)
    with engine.connect() as conn:
        row = conn.execute(text("SELECT hash FROM api_keys WHERE id = :i"), {"i": new.key_id}).one()
        dump = " ".join(
            str(v) for r in conn.execute(text("SELECT * FROM api_keys")).all() for v in r
        )
    assert row.hash == partners.server_hash(SECRET, new.key)
    assert new.key not in dump
    secret_part = new.key[len("nf_live_") + 17 :]
    assert secret_part not in dump


def test_a_valid_key_authenticates_as_its_partner(sessions):
    new = create(sessions, scopes=["ingest:write", "content:read"], sources=["a", "b"])
    who = auth(sessions, new.key)
    assert isinstance(who, Principal)
    assert who.partner == new.partner and who.key_id == new.key_id
    assert who.may("content:read") and not who.may("admin")
    assert who.may_write("a") and not who.may_write("c")


def test_a_key_checked_with_another_server_secret_is_refused(sessions):
    new = create(sessions)
    found = auth(sessions, new.key, secret=b"x" * 48)
    assert isinstance(found, Refusal) and found.code == "invalid_key"


@pytest.mark.parametrize(
    "mangle",
    [
        lambda k: k[:-1] + ("A" if k[-1] != "A" else "B"),  # one character of the secret
        lambda k: k.replace("nf_live_", "nf_test_"),
        lambda k: k + "x",
        lambda k: "",
        lambda k: "nf_live_" + "a" * 16 + "_" + "A" * 43,  # well-formed, unknown id
    ],
    ids=["secret-changed", "prefix", "longer", "empty", "unknown-id"],
)
def test_a_wrong_key_is_invalid(sessions, mangle):
    new = create(sessions)
    found = auth(sessions, mangle(new.key))
    assert isinstance(found, Refusal)
    assert (found.status, found.code) == (401, "invalid_key")
    assert new.key not in found.detail


def test_a_revoked_key_is_refused(sessions):
    new = create(sessions)
    with sessions.begin() as session:
        partners.revoke(session, new.key_id, utcnow())
    found = auth(sessions, new.key)
    assert isinstance(found, Refusal) and found.code == "revoked_key"


def test_revoking_a_partner_revokes_every_key(sessions):
    new = create(sessions)
    with sessions.begin() as session:
        second = partners.rotate_key(session, new.partner, SECRET, utcnow(), timedelta(hours=1))
        partners.revoke(session, new.partner, utcnow())
    for key in (new.key, second.key):
        found = auth(sessions, key)
        assert isinstance(found, Refusal) and found.code == "revoked_key"


def test_an_expired_key_is_refused(sessions):
    new = create(sessions, expires=utcnow() + timedelta(minutes=5))
    assert isinstance(auth(sessions, new.key), Principal)
    later = auth(sessions, new.key, now=utcnow() + timedelta(minutes=6))
    assert isinstance(later, Refusal) and later.code == "expired_key"


def test_a_rotated_key_works_for_the_grace_period_then_stops(sessions):
    old = create(sessions)
    now = utcnow()
    with sessions.begin() as session:
        new = partners.rotate_key(session, old.partner, SECRET, now, timedelta(hours=24))
    assert isinstance(auth(sessions, old.key, now=now + timedelta(hours=23)), Principal)
    assert isinstance(auth(sessions, new.key, now=now + timedelta(hours=25)), Principal)
    ended = auth(sessions, old.key, now=now + timedelta(hours=24, seconds=1))
    assert isinstance(ended, Refusal) and ended.code == "expired_key"


def test_rotation_without_grace_stops_the_old_key_at_once(sessions):
    old = create(sessions)
    with sessions.begin() as session:
        partners.rotate_key(session, old.partner, SECRET, utcnow(), timedelta(0))
    found = auth(sessions, old.key)
    assert isinstance(found, Refusal) and found.code == "revoked_key"


def test_an_address_outside_the_allowlist_is_refused(sessions):
    new = create(sessions, allow_ips=["10.0.0.0/8", "::1"])
    assert isinstance(auth(sessions, new.key, client="10.1.2.3"), Principal)
    assert isinstance(auth(sessions, new.key, client="::1"), Principal)
    found = auth(sessions, new.key, client="127.0.0.1")
    assert isinstance(found, Refusal)
    assert (found.status, found.code) == (403, "address_not_allowed")


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"scopes": ["write"]}, "unknown scope"),
        ({"scopes": []}, "at least one scope"),
        ({"sources": ["Bad Source"]}, "not a source id"),
        ({"allow_ips": ["not-an-ip"]}, "not an address"),
        ({"name": "Has Spaces"}, "not a partner name"),
    ],
)
def test_bad_partner_settings_are_refused_with_a_reason(sessions, kw, message):
    with pytest.raises(PartnerError, match=message):
        create(sessions, **kw)


def test_a_partner_name_is_unique(sessions):
    new = create(sessions)
    with pytest.raises(PartnerError, match="exists already"):
        create(sessions, name=new.partner)


def test_audit_rows_are_pruned_by_age(sessions):
    new = create(sessions)
    with sessions.begin() as session:
        pid = session.scalar(select(ApiKey.partner_id).where(ApiKey.id == new.key_id))
        for days in (1, 100):
            partners.record(
                session, at=utcnow() - timedelta(days=days), partner_id=pid,
                key_id=new.key_id, method="GET", route="/x", status=200,
            )  # fmt: skip
    with sessions.begin() as session:
        partners.prune_audit(session, utcnow() - timedelta(days=90))
    with sessions() as session:
        rows = partners.audit(session, new.partner, None)
    assert [r.route for r in rows] == ["/x"]
    assert rows[0].at > utcnow() - timedelta(days=2)


def test_a_local_key_replaces_the_previous_one(sessions):
    n = name()
    with sessions.begin() as session:
        first = partners.issue_local_key(session, n, ["admin"], ["a"], SECRET, utcnow())
    with sessions.begin() as session:
        second = partners.issue_local_key(session, n, ["ingest:write"], ["b"], SECRET, utcnow())
    assert isinstance(auth(sessions, first.key), Refusal)
    who = auth(sessions, second.key)
    assert isinstance(who, Principal)
    assert who.scopes == {"admin", "ingest:write"} and who.sources == {"a", "b"}
