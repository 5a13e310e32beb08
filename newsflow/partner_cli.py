"""``newsflow partner …``: partners and their keys, on the store the settings name.

A key is printed once, when it is made (``add``, ``rotate-key``); the store keeps only its
keyed hash, so a lost key is replaced, never recovered.
"""

from __future__ import annotations

import json
import sys

import click

from newsflow import webhook_cli
from newsflow.cliargs import parse_duration, parse_when
from shared.settings import Settings


def _split(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def _store():
    from shared import keysecret, migrate
    from shared.db import make_engine, make_sessionmaker

    settings = keysecret.ensure(Settings.from_env())
    migrate.upgrade(settings.database_url)
    return settings, make_sessionmaker(make_engine(settings.database_url, immediate=True))


def _fail(exc: Exception) -> None:
    click.echo(f"newsflow partner: {exc}", err=True)
    sys.exit(2)


def _print_key(new, as_json: bool) -> None:
    expires = new.expires.isoformat() if new.expires else None
    if as_json:
        click.echo(
            json.dumps(
                {
                    "partner": new.partner,
                    "keyId": new.key_id,
                    "key": new.key,
                    "scopes": new.scopes,
                    "expires": expires,
                }
            )
        )
        return
    click.echo(f"partner  {new.partner}")
    click.echo(f"key id   {new.key_id}")
    click.echo(f"scopes   {', '.join(new.scopes)}")
    if new.sources:
        click.echo(f"sources  {', '.join(new.sources)}")
    click.echo(f"expires  {expires or 'never'}")
    click.echo(f"API key  {new.key}")
    click.echo("Store the key now: it is not shown again (only its hash is kept).", err=True)


@click.group()
def partner() -> None:
    """Partners and their API keys (scopes, sources, expiry, address allowlist, audit)."""


@partner.command("add")
@click.argument("name")
@click.option("--scopes", required=True, help="Comma-separated: ingest:write, content:read, "
              "embargo:read, admin.")  # fmt: skip
@click.option("--sources", help="Comma-separated sources its keys may write.")
@click.option("--expires", help="ISO date or time the first key stops working.")
@click.option("--allow-ip", help="Comma-separated addresses or CIDR blocks it may call from.")
@click.option("--rate-limit", help="Its own limit, e.g. 1200/minute (default: RATE_LIMIT).")
@click.option("--json", "as_json", is_flag=True, help="Print the new key as JSON.")
def add(name, scopes, sources, expires, allow_ip, rate_limit, as_json) -> None:
    """Create a partner and its first key; the key is printed once."""
    from shared import keysecret, partners

    if rate_limit:
        from limits import parse

        try:
            parse(rate_limit)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--rate-limit") from None
    settings, sessions = _store()
    try:
        with sessions.begin() as session:
            new = partners.create_partner(
                session, name, _split(scopes), keysecret.secret_bytes(settings),
                sources=_split(sources), expires=parse_when(expires, "--expires"),
                allow_ips=_split(allow_ip), rate_limit=rate_limit,
            )  # fmt: skip
    except partners.PartnerError as exc:
        _fail(exc)
    _print_key(new, as_json)


@partner.command("list")
def list_() -> None:
    """Every partner with its scopes, sources and live keys."""
    from sqlalchemy import select

    from shared import partners
    from shared.models import Partner, utcnow

    _, sessions = _store()
    now = utcnow()
    with sessions() as session:
        for p in session.scalars(select(Partner).order_by(Partner.name)):
            live = [
                k for k in partners.keys_of(session, p)
                if k.revoked_at is None and (k.expires_at is None or k.expires_at > now)
            ]  # fmt: skip
            state = "revoked" if p.revoked_at else f"{len(live)} live key(s)"
            click.echo(
                f"{p.name:20} {state:14} scopes={','.join(p.scopes)} "
                f"sources={','.join(p.sources) or '-'}"
            )


@partner.command("show")
@click.argument("name")
def show(name) -> None:
    """One partner and each of its keys (ids only, never the key)."""
    from shared import partners
    from shared.models import utcnow

    _, sessions = _store()
    now = utcnow()
    with sessions() as session:
        try:
            p = partners.find_partner(session, name)
        except partners.PartnerError as exc:
            _fail(exc)
        click.echo(f"partner     {p.name}{'  (revoked)' if p.revoked_at else ''}")
        click.echo(f"scopes      {', '.join(p.scopes)}")
        click.echo(f"sources     {', '.join(p.sources) or '-'}")
        click.echo(f"allow-ip    {', '.join(p.allow_ips) or 'any'}")
        click.echo(f"rate limit  {p.rate_limit or 'default (RATE_LIMIT)'}")
        for k in partners.keys_of(session, p):
            if k.revoked_at:
                state = f"revoked {k.revoked_at.isoformat()}"
            elif k.expires_at and k.expires_at <= now:
                state = f"expired {k.expires_at.isoformat()}"
            elif k.expires_at:
                state = f"live until {k.expires_at.isoformat()}"
            else:
                state = "live"
            click.echo(f"key {k.id}  created {k.created_at.isoformat()}  {state}")
        _show_webhooks(session, p.name)


def _show_webhooks(session, name: str) -> None:
    """Each endpoint with its state: a disabled one says when and why."""
    from shared.webhooks import endpoints

    for _, e in endpoints.of_partner(session, name):
        click.echo(f"webhook {e.id}  {e.status}  {','.join(e.events)}  {e.url}")
        if e.disabled_reason:
            click.echo(f"    disabled {e.disabled_at.isoformat()}: {e.disabled_reason}")
        elif e.failing_since:
            click.echo(f"    failing since {e.failing_since.isoformat()}")


@partner.command("revoke")
@click.argument("name_or_key_id")
def revoke(name_or_key_id) -> None:
    """Revoke a partner (all its keys) or one key, at once."""
    from shared import partners
    from shared.models import utcnow

    _, sessions = _store()
    try:
        with sessions.begin() as session:
            what = partners.revoke(session, name_or_key_id, utcnow())
    except partners.PartnerError as exc:
        _fail(exc)
    click.echo(f"revoked {what}")


@partner.command("rotate-key")
@click.argument("name")
@click.option("--grace", default="0s", show_default=True,
              help="How long the old key(s) keep working, e.g. 24h.")  # fmt: skip
@click.option("--json", "as_json", is_flag=True)
def rotate_key(name, grace, as_json) -> None:
    """A new key for the partner; the old one stops after the grace period."""
    from shared import keysecret, partners
    from shared.models import utcnow

    settings, sessions = _store()
    try:
        with sessions.begin() as session:
            new = partners.rotate_key(
                session, name, keysecret.secret_bytes(settings), utcnow(),
                parse_duration(grace, "--grace"),
            )  # fmt: skip
    except partners.PartnerError as exc:
        _fail(exc)
    _print_key(new, as_json)


@partner.command("audit")
@click.argument("name")
@click.option("--since", help="ISO date or time; default: everything kept.")
@click.option("--limit", default=1000, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="JSON lines.")
def audit(name, since, limit, as_json) -> None:
    """The partner's requests, newest first."""
    from shared import partners

    _, sessions = _store()
    with sessions() as session:
        try:
            rows = partners.audit(session, name, parse_when(since, "--since"), limit)
        except partners.PartnerError as exc:
            _fail(exc)
    for r in rows:
        item = {
            "at": r.at.isoformat(), "keyId": r.key_id, "method": r.method, "route": r.route,
            "status": r.status, "articleId": r.article_id, "version": r.version,
            "client": r.client,
        }  # fmt: skip
        if as_json:
            click.echo(json.dumps(item, ensure_ascii=False))
        else:
            click.echo(
                f"{item['at']}  {r.status}  {r.method:6} {r.route}  key={r.key_id}  "
                f"client={r.client or '-'}"
                + (f"  article={r.article_id} v{r.version}" if r.article_id else "")
            )


webhook_cli.register(partner)
