"""Partners and their API keys: who may write and who may read.

A key is ``nf_live_<id>_<secret>``: the prefix makes a leaked key recognisable to secret
scanners, the id (80 bits, not secret) finds the row without a scan, and the secret is 256
random bits. Only HMAC-SHA256(server secret, whole key) is stored: the key is a
high-entropy token, not a password, so a slow hash buys nothing (a keyed hash still keeps a
stolen table from being checked offline without the server secret), and it is compared in
constant time (``hmac.compare_digest``). No key, hash or secret is ever logged, audited or
returned by anything here but ``create_partner``/``rotate_key``, once.

Pure store functions: no Flask, no settings; the caller gives the session, the server
secret and the time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import logging
import re
import secrets
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from shared.models import ApiKey, AuditRow, Partner
from shared.schema import SOURCE_PATTERN

log = logging.getLogger(__name__)

SCOPE_INGEST_WRITE = "ingest:write"  # POST/DELETE articles and media (own sources)
SCOPE_CONTENT_READ = "content:read"  # full text through the partner API
SCOPE_EMBARGO_READ = "embargo:read"  # embargoed items, flagged
SCOPE_ADMIN = "admin"  # any article's status, whatever its source
SCOPES = (SCOPE_INGEST_WRITE, SCOPE_CONTENT_READ, SCOPE_EMBARGO_READ, SCOPE_ADMIN)

KEY_PREFIX = "nf_live_"
_KEY = re.compile(re.escape(KEY_PREFIX) + r"([a-z2-7]{16})_([A-Za-z0-9_-]{43})")
# Partner names follow the source ids' rule: short, lower-case, safe in a URL or a log line.
_NAME = re.compile(SOURCE_PATTERN)
_SOURCE = re.compile(SOURCE_PATTERN)


class PartnerError(ValueError):
    """A request about partners that cannot be done; the message says why."""


@dataclass(frozen=True)
class Principal:
    """The partner a request was authenticated as. Holds no key material."""

    partner_id: str
    partner: str
    key_id: str
    scopes: frozenset[str]
    sources: frozenset[str]
    rate_limit: str | None = None

    def may(self, scope: str) -> bool:
        return scope in self.scopes

    def may_write(self, source: str) -> bool:
        return self.may(SCOPE_INGEST_WRITE) and source in self.sources


@dataclass(frozen=True)
class Refusal:
    """Why a key was not accepted: the HTTP status, a code a program can switch on, and a
    detail a person can act on (never the key itself)."""

    status: int
    code: str
    detail: str


@dataclass(frozen=True)
class NewKey:
    partner: str
    key_id: str
    key: str  # shown once
    scopes: list[str]
    expires: datetime | None
    sources: list[str] = field(default_factory=list)


def server_hash(secret: bytes, key: str) -> str:
    return hmac.new(secret, key.encode("ascii"), hashlib.sha256).hexdigest()


def _new_token() -> tuple[str, str]:
    key_id = base64.b32encode(secrets.token_bytes(10)).decode("ascii").lower()
    return key_id, f"{KEY_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"


def parse_key_id(key: str) -> str | None:
    m = _KEY.fullmatch(key)
    return m.group(1) if m else None


def _check_scopes(scopes: list[str]) -> list[str]:
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown or not scopes:
        raise PartnerError(
            f"unknown scope(s) {', '.join(unknown)}; choose from {', '.join(SCOPES)}"
            if unknown
            else f"give at least one scope ({', '.join(SCOPES)})"
        )
    return sorted(set(scopes))


def _check_cidrs(cidrs: list[str]) -> list[str]:
    out = []
    for cidr in cidrs:
        try:
            out.append(str(ipaddress.ip_network(cidr.strip(), strict=False)))
        except ValueError:
            raise PartnerError(f"{cidr!r} is not an address or CIDR block") from None
    return out


def _check_sources(sources: list[str]) -> list[str]:
    for source in sources:
        if not _SOURCE.fullmatch(source):
            raise PartnerError(
                f"{source!r} is not a source id (lowercase letters, digits, . _ -; 64 at most)"
            )
    return sorted(set(sources))


def _add_key(session: Session, partner: Partner, secret: bytes, expires: datetime | None):
    key_id, key = _new_token()
    session.add(
        ApiKey(id=key_id, partner_id=partner.id, hash=server_hash(secret, key), expires_at=expires)
    )
    return key_id, key


def create_partner(
    session: Session,
    name: str,
    scopes: list[str],
    secret: bytes,
    sources: list[str] = (),
    expires: datetime | None = None,
    allow_ips: list[str] = (),
    rate_limit: str | None = None,
) -> NewKey:
    if not _NAME.fullmatch(name):
        raise PartnerError(
            f"{name!r} is not a partner name (lowercase letters, digits, . _ -; 64 at most)"
        )
    if session.scalar(select(Partner).where(Partner.name == name)) is not None:
        raise PartnerError(f"a partner named {name!r} exists already")
    partner = Partner(
        id=uuid.uuid4().hex,
        name=name,
        scopes=_check_scopes(list(scopes)),
        sources=_check_sources(list(sources)),
        allow_ips=_check_cidrs(list(allow_ips)),
        rate_limit=rate_limit,
    )
    session.add(partner)
    session.flush()
    key_id, key = _add_key(session, partner, secret, expires)
    return NewKey(name, key_id, key, partner.scopes, expires, partner.sources)


def find_partner(session: Session, name: str) -> Partner:
    partner = session.scalar(select(Partner).where(Partner.name == name))
    if partner is None:
        raise PartnerError(f"no partner named {name!r} (newsflow partner list)")
    return partner


def keys_of(session: Session, partner: Partner) -> list[ApiKey]:
    return list(
        session.scalars(
            select(ApiKey).where(ApiKey.partner_id == partner.id).order_by(ApiKey.created_at)
        )
    )


def rotate_key(
    session: Session, name: str, secret: bytes, now: datetime, grace: timedelta
) -> NewKey:
    """A new key; every current key keeps working for ``grace``, then stops."""
    partner = find_partner(session, name)
    if partner.revoked_at is not None:
        raise PartnerError(f"partner {name!r} is revoked")
    end = now + grace
    for old in keys_of(session, partner):
        if old.revoked_at is None and (old.expires_at is None or old.expires_at > end):
            if grace:
                old.expires_at = end
            else:
                old.revoked_at = now
    key_id, key = _add_key(session, partner, secret, None)
    return NewKey(name, key_id, key, partner.scopes, None, partner.sources)


def revoke(session: Session, name_or_key_id: str, now: datetime) -> str:
    """Revoke a partner (all its keys) or one key; returns what was revoked, for the CLI."""
    partner = session.scalar(select(Partner).where(Partner.name == name_or_key_id))
    if partner is not None:
        partner.revoked_at = partner.revoked_at or now
        for key in keys_of(session, partner):
            key.revoked_at = key.revoked_at or now
        return f"partner {partner.name} and all its keys"
    key = session.get(ApiKey, name_or_key_id)
    if key is None:
        raise PartnerError(f"no partner or key id {name_or_key_id!r}")
    key.revoked_at = key.revoked_at or now
    return f"key {key.id}"


def _address_allowed(allow: list[str], client: str | None) -> bool:
    if not allow:
        return True
    try:
        ip = ipaddress.ip_address((client or "").split("%", 1)[0])
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(cidr) for cidr in allow)


def authenticate(
    session: Session, key: str, client: str | None, secret: bytes, now: datetime
) -> Principal | Refusal:
    """The partner a presented key belongs to, or why it is refused."""
    key_id = parse_key_id(key)
    row = session.get(ApiKey, key_id) if key_id else None
    # The hash is compared even for an unknown id (against a dummy), so timing does not
    # tell a valid id from an invalid one.
    expected = row.hash if row is not None else "0" * 64
    if not hmac.compare_digest(expected, server_hash(secret, key)) or row is None:
        return Refusal(401, "invalid_key", "the API key is not valid; check it was copied whole")
    partner = session.get(Partner, row.partner_id)
    if row.revoked_at is not None or partner is None or partner.revoked_at is not None:
        return Refusal(401, "revoked_key", f"key {key_id} was revoked; ask for a new one")
    if row.expires_at is not None and row.expires_at <= now:
        return Refusal(401, "expired_key", f"key {key_id} expired at {row.expires_at.isoformat()}")
    if not _address_allowed(partner.allow_ips, client):
        return Refusal(
            403,
            "address_not_allowed",
            f"key {key_id} may not be used from {client}; its partner allows "
            f"{', '.join(partner.allow_ips)}",
        )
    return Principal(
        partner_id=partner.id,
        partner=partner.name,
        key_id=row.id,
        scopes=frozenset(partner.scopes),
        sources=frozenset(partner.sources),
        rate_limit=partner.rate_limit,
    )


def record(session: Session, **fields) -> None:
    """One audit row (the caller commits). ``fields``: AuditRow's columns."""
    session.add(AuditRow(**fields))


def record_request(
    sessions: Callable[[], AbstractContextManager[Session]],
    who: Principal,
    method: str,
    route: str,
    status: int,
    client: str | None,
    article_id: str | None = None,
    version: int | None = None,
) -> None:
    """The audit row of one answered request, in its own transaction (every service's
    ``auth`` hook). The answer stands whatever happens here: a lost row is logged, without
    the key, never turned into a 500."""
    try:
        with sessions() as session:
            record(
                session, partner_id=who.partner_id, key_id=who.key_id, method=method,
                route=route[:200], status=status, article_id=article_id, version=version,
                client=(client or "")[:64] or None,
            )  # fmt: skip
    except Exception:
        log.exception("audit row for partner %s not written", who.partner)


def audit(session: Session, name: str, since: datetime | None, limit: int = 1000):
    partner = find_partner(session, name)
    query = select(AuditRow).where(AuditRow.partner_id == partner.id)
    if since is not None:
        query = query.where(AuditRow.at >= since)
    return list(
        session.scalars(query.order_by(AuditRow.at.desc(), AuditRow.id.desc()).limit(limit))
    )


def prune_audit(session: Session, before: datetime) -> int:
    return session.execute(delete(AuditRow).where(AuditRow.at < before)).rowcount


def issue_local_key(
    session: Session,
    name: str,
    scopes: list[str],
    sources: list[str],
    secret: bytes,
    now,
    rate_limit: str | None = None,
) -> NewKey:
    """A fresh key for one of newsflow's own clients (the demo, an in-process import): the
    partner is made once, its sources widened to what is asked, and every older key of it
    revoked, so each run holds the only live key and none lingers."""
    partner = session.scalar(select(Partner).where(Partner.name == name))
    if partner is None:
        return create_partner(session, name, scopes, secret, sources=sources, rate_limit=rate_limit)
    partner.rate_limit = rate_limit
    partner.scopes = _check_scopes(sorted(set(partner.scopes) | set(scopes)))
    partner.sources = _check_sources(sorted(set(partner.sources) | set(sources)))
    partner.revoked_at = None
    return rotate_key(session, name, secret, now, timedelta(0))
