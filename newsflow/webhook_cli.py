"""``newsflow partner webhook …``, ``partner deliveries``, ``partner resend``: partners'
webhook endpoints (Standard Webhooks) and their delivery log, on the store the settings name.

A signing secret is printed once, when it is made (``webhook add``, ``rotate-secret``); the
store keeps it encrypted under the server secret, and nothing prints it again.
"""

from __future__ import annotations

import json
import sys

import click

from newsflow.cliargs import parse_duration, parse_when
from shared.settings import Settings


def _store():
    from shared import keysecret, migrate
    from shared.db import make_engine, make_sessionmaker

    settings = keysecret.ensure(Settings.from_env())
    migrate.upgrade(settings.database_url)
    return settings, make_sessionmaker(make_engine(settings.database_url, immediate=True))


def _fail(exc: Exception | str) -> None:
    click.echo(f"newsflow partner: {exc}", err=True)
    sys.exit(2)


def _split(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def _check_url(settings: Settings, url: str) -> None:
    """The address guard image fetches and WebSub callbacks pass (shared.netguard); the
    worker checks again at every attempt, since a host's addresses may change."""
    from shared import netguard

    try:
        netguard.checked(url, settings.fetch_allow_hosts)
    except netguard.AddressRefused as exc:
        _fail(f"webhook URL refused: {exc}")
    except netguard.NotResolved as exc:
        _fail(f"webhook URL refused: {exc}")


def _print_secret(new, as_json: bool, rotated: bool = False) -> None:
    until = new.previous_until.isoformat() if new.previous_until else None
    if as_json:
        out = {"endpointId": new.endpoint_id, "partner": new.partner, "url": new.url,
               "events": new.events, "secret": new.secret}  # fmt: skip
        if rotated:
            out["previousSecretUntil"] = until
        click.echo(json.dumps(out))
        return
    click.echo(f"endpoint  {new.endpoint_id}")
    click.echo(f"partner   {new.partner}")
    click.echo(f"url       {new.url}")
    click.echo(f"events    {', '.join(new.events)}")
    if rotated:
        click.echo(f"old secret signs too until {until or 'now: not at all'}")
    click.echo(f"secret    {new.secret}")
    click.echo(
        "Store the secret now: it is not shown again. Verify each delivery's "
        "webhook-signature with it (docs/api.md, Webhooks).",
        err=True,
    )


@click.group("webhook")
def webhook() -> None:
    """A partner's webhook endpoints: every change POSTed, signed (Standard Webhooks)."""


@webhook.command("add")
@click.argument("name")
@click.argument("url")
@click.option("--events", help="Comma-separated subset of published, updated, withdrawn, "
              "released (default: all).")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print the new endpoint as JSON.")
def add(name, url, events, as_json) -> None:
    """Add an endpoint for partner NAME; its signing secret (whsec_…) is printed once."""
    from shared import keysecret
    from shared.models import utcnow
    from shared.webhooks import endpoints

    settings, sessions = _store()
    try:
        wanted = endpoints.check_events(_split(events))
    except endpoints.WebhookError as exc:
        raise click.BadParameter(str(exc), param_hint="--events") from None
    _check_url(settings, url)
    try:
        with sessions.begin() as session:
            new = endpoints.add(
                session, name, url, wanted, keysecret.secret_bytes(settings), utcnow()
            )
    except endpoints.WebhookError as exc:
        _fail(exc)
    _print_secret(new, as_json)


@webhook.command("list")
@click.argument("name", required=False)
def list_(name) -> None:
    """Every endpoint (of partner NAME, or of all) with its state."""
    from shared.webhooks import endpoints

    _, sessions = _store()
    with sessions() as session:
        try:
            pairs = endpoints.of_partner(session, name)
        except endpoints.WebhookError as exc:
            _fail(exc)
        if not pairs:
            click.echo("no webhook endpoint" + (f" for {name}" if name else ""))
        for partner_name, e in pairs:
            click.echo(f"{e.id}  {partner_name:20} {e.status:9} {','.join(e.events):35} {e.url}")
            if e.disabled_reason:
                click.echo(f"    disabled {e.disabled_at.isoformat()}: {e.disabled_reason}")


@webhook.command("remove")
@click.argument("endpoint_id")
def remove(endpoint_id) -> None:
    """Remove an endpoint and its delivery log."""
    from shared.webhooks import endpoints

    _, sessions = _store()
    try:
        with sessions.begin() as session:
            e = endpoints.remove(session, endpoint_id)
    except endpoints.WebhookError as exc:
        _fail(exc)
    click.echo(f"removed {e.id} ({e.url})")


@webhook.command("rotate-secret")
@click.argument("endpoint_id")
@click.option("--grace", default="24h", show_default=True,
              help="How long the old secret signs too (both signatures are sent).")  # fmt: skip
@click.option("--json", "as_json", is_flag=True)
def rotate_secret(endpoint_id, grace, as_json) -> None:
    """A new signing secret, printed once; the old one signs too for the grace period."""
    from shared import keysecret
    from shared.models import utcnow
    from shared.webhooks import endpoints

    settings, sessions = _store()
    period = parse_duration(grace, "--grace")
    try:
        with sessions.begin() as session:
            new = endpoints.rotate(
                session, endpoint_id, keysecret.secret_bytes(settings), utcnow(), period
            )
    except endpoints.WebhookError as exc:
        _fail(exc)
    _print_secret(new, as_json, rotated=True)


@webhook.command("enable")
@click.argument("endpoint_id")
def enable(endpoint_id) -> None:
    """Send to a disabled endpoint again; the changes it missed follow, in order."""
    from shared.webhooks import endpoints

    _, sessions = _store()
    try:
        with sessions.begin() as session:
            e = endpoints.enable(session, endpoint_id)
    except endpoints.WebhookError as exc:
        _fail(exc)
    click.echo(f"enabled {e.id} ({e.url})")


@click.command("deliveries")
@click.argument("name")
@click.option("--status", type=click.Choice(["pending", "retrying", "delivered", "failed"]))
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10_000))
@click.option("--json", "as_json", is_flag=True, help="JSON lines.")
def deliveries(name, status, limit, as_json) -> None:
    """Partner NAME's webhook deliveries, newest first."""
    from shared.webhooks import deliveries as log
    from shared.webhooks import endpoints

    _, sessions = _store()
    with sessions() as session:
        try:
            lines = log.log(session, name, limit, status)
        except endpoints.WebhookError as exc:
            _fail(exc)
    if as_json:
        for d in lines:
            click.echo(json.dumps({
                "id": d.id, "endpointId": d.endpoint_id, "event": d.event, "sequence": d.seq,
                "articleId": d.article_id, "status": d.status, "attempts": d.attempts,
                "lastStatus": d.last_status, "error": d.last_error,
                "createdAt": d.created_at.isoformat(),
                "nextAttemptAt": d.next_attempt_at.isoformat() if d.next_attempt_at else None,
                "deliveredAt": d.delivered_at.isoformat() if d.delivered_at else None,
            }, ensure_ascii=False))  # fmt: skip
        return
    if not lines:
        click.echo(f"no delivery for {name}")
        return
    head = f"{'id':40} {'event':10} {'seq':>8} {'status':10} {'attempts':>8} {'last':>4}  error"
    click.echo(head)
    for d in lines:
        click.echo(
            f"{d.id:40} {d.event:10} {d.seq:>8} {d.status:10} {d.attempts:>8} "
            f"{d.last_status or '-':>4}  {(d.last_error or '')[:120]}"
        )


@click.command("resend")
@click.argument("delivery_id", required=False)
@click.option("--since", help="Every delivery made at or after this ISO time.")
@click.option("--partner", "partner_name", help="With --since: only this partner's.")
def resend(delivery_id, since, partner_name) -> None:
    """Send a delivery again (same webhook-id, new timestamp), or every one since a time."""
    from shared.models import utcnow
    from shared.webhooks import deliveries as log
    from shared.webhooks import endpoints

    if bool(delivery_id) == bool(since):
        raise click.UsageError("name a delivery id, or give --since TIME (not both)")
    if partner_name and not since:
        raise click.UsageError("--partner goes with --since")
    when = parse_when(since, "--since")
    _, sessions = _store()
    try:
        with sessions.begin() as session:
            if delivery_id:
                log.resend(session, delivery_id, utcnow())
                resent, skipped = [delivery_id], 0
            else:
                resent, skipped = log.resend_since(session, when, utcnow(), partner_name)
    except endpoints.WebhookError as exc:
        _fail(exc)
    if not resent:
        note = f" ({skipped} to disabled endpoints)" if skipped else ""
        click.echo(f"no delivery to resend{note}")
        return
    click.echo(
        f"resending {len(resent)} deliver{'y' if len(resent) == 1 else 'ies'}: "
        + ", ".join(resent[:10]) + (" …" if len(resent) > 10 else "")
        + (f"; {skipped} skipped (endpoint disabled)" if skipped else "")
    )  # fmt: skip
    click.echo("the relay sends them; follow them with `newsflow partner deliveries NAME`")


def register(partner: click.Group) -> None:
    partner.add_command(webhook)
    partner.add_command(deliveries)
    partner.add_command(resend)
