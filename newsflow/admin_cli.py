"""Operators' commands: ``status``, ``retry``, ``rebuild``, ``backup``, ``restore``.

Each works on the store and Redis the settings name, like the services, so it runs beside
``newsflow up`` or in a compose container (``docker compose run --rm relay newsflow status``).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click

from newsflow.cliargs import parse_when
from shared.settings import Settings


def _engine(settings: Settings):
    from shared.db import make_engine

    return make_engine(settings.database_url, immediate=True)


def reader_engine(settings: Settings):
    """For a long read (a backup): on SQLite a writer's engine (BEGIN IMMEDIATE) would hold
    the write lock all along and stall ingest and the workers."""
    from shared.db import make_engine

    return make_engine(settings.database_url)


def _redis(settings: Settings):
    from shared.redisurl import client

    return client(settings.redis_url, timeout=2)


@click.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON document.")
def status(as_json: bool) -> None:
    """Queues, outbox backlog, articles by state, the oldest waiting, recent failures, the
    next embargo to end (and any overdue: no scheduler running)."""
    from sqlalchemy.orm import Session

    from newsflow import admin
    from shared.models import utcnow

    settings = Settings.from_env()
    with Session(_engine(settings)) as session:
        state = admin.status(session, _redis(settings))
    now = utcnow()
    report = state.as_json(now)
    if as_json:
        click.echo(json.dumps(report, ensure_ascii=False, indent=2))
        return
    queues = "  ".join(f"{q}={'?' if n is None else n}" for q, n in report["queues"].items())
    click.echo(f"queues    {queues}")
    outbox = report["outbox"]
    oldest = outbox["oldestAgeSeconds"]
    click.echo(
        f"outbox    {outbox['backlog']} unsent"
        + (f", oldest {oldest:.0f}s old" if oldest is not None else "")
    )
    click.echo("articles  " + "  ".join(f"{k}={v}" for k, v in report["articles"].items()))
    if report["oldestQueued"]:
        o = report["oldestQueued"]
        click.echo(f"oldest    {o['id']} waiting {o['ageSeconds']:.0f}s")
    embargoes = report["embargoes"]
    if embargoes["next"]:
        click.echo(f"embargo   next ends {embargoes['next']}")
    if embargoes["overdue"]:
        click.echo(
            f"warning   {embargoes['overdue']} embargo(es) past their time and still held: "
            "is `newsflow scheduler` running?",
            err=True,
        )
    if any(n is None for n in report["queues"].values()):
        click.echo("warning   Redis did not answer: queue depths unknown", err=True)
    for f in report["recentFailures"]:
        click.echo(f"failed    {f['id']} {f['source']}/{f['guid']} v{f['version']}: {f['reason']}")


def _send_outbox(settings: Settings, first_id: int, total: int, label: str) -> int:
    """Send the outbox rows after ``first_id`` now, with a progress bar; whatever cannot go
    out (no progress for 10 s: Redis away) stays for the relay. Returns how many are still
    unsent."""
    from rich.progress import Progress

    from ingest.context import IngestContext
    from ingest.relay import relay_pending
    from newsflow import admin

    ctx = IngestContext.build(settings)
    with Progress(transient=False) as progress:
        bar = progress.add_task(label, total=total)
        last_left, last_progress = total, time.monotonic()
        while True:
            sent = relay_pending(ctx.sessions, ctx.relay_send, limit=200)
            with ctx.readers() as session:
                left = admin.unsent(session, first_id)
            progress.update(bar, completed=total - left)
            if left == 0:
                return 0
            if left < last_left:
                last_left, last_progress = left, time.monotonic()
            elif time.monotonic() - last_progress > 10:
                return left
            if not sent:
                time.sleep(0.5)  # a pass that sent nothing: the broker is away, or busy


def _wait_drained(settings: Settings, timeout: float) -> bool:
    """Until every queue is empty (the workers took the work), with the depth shown."""
    from rich.progress import Progress

    from newsflow import admin

    r = _redis(settings)
    deadline = time.monotonic() + timeout
    with Progress(transient=False) as progress:
        start = sum(n or 0 for n in admin.queue_depths(r).values())
        bar = progress.add_task("workers taking the work", total=max(start, 1))
        while time.monotonic() < deadline:
            depth = sum(n or 0 for n in admin.queue_depths(r).values())
            progress.update(bar, completed=max(0, start - depth) if start else 1)
            if depth == 0:
                progress.update(bar, completed=max(start, 1))
                return True
            time.sleep(0.5)
    return False


@click.command()
@click.argument("ids", nargs=-1)
@click.option("--failed", "all_failed", is_flag=True, help="Every failed article.")
@click.option("--since", help="With --failed: only those that failed after this ISO time.")
def retry(ids: tuple[str, ...], all_failed: bool, since: str | None) -> None:
    """Send failed articles through their steps again, e.g. after their picture host is fixed."""
    from sqlalchemy.orm import sessionmaker

    from newsflow import admin

    if bool(ids) == all_failed:
        raise click.UsageError("name article ids, or give --failed (not both)")
    settings = Settings.from_env()
    sessions = sessionmaker(_engine(settings))
    with sessions.begin() as session:
        first = admin.last_outbox_id(session)
        try:
            retried = admin.retry(session, list(ids) or None, parse_when(since, "--since"))
        except ValueError as exc:
            click.echo(f"newsflow retry: {exc}", err=True)
            sys.exit(2)
    if not retried:
        click.echo("no failed article to retry")
        return
    left = _send_outbox(settings, first, len(retried), f"sending {len(retried)} article(s)")
    click.echo(
        f"retrying {len(retried)} article(s): {', '.join(retried[:10])}"
        + (" …" if len(retried) > 10 else "")
        + (f"; {left} wait in the outbox for the relay (Redis away?)" if left else "")
    )
    click.echo("follow them with `newsflow status`")


@click.command()
@click.option(
    "--feeds", is_flag=True, help="Every feed (all formats, archive pages, channel page)."
)
@click.option("--pages", is_flag=True, help="Every published article's page (and its feeds).")
@click.option(
    "--all",
    "everything",
    is_flag=True,
    help="Pictures, pages and feeds of every published article, and the steps of those "
    "that were under way (after a restore).",
)
@click.option("--wait/--no-wait", default=True, show_default=True,
              help="Wait until the workers have taken all the work.")  # fmt: skip
def rebuild(feeds: bool, pages: bool, everything: bool, wait: bool) -> None:
    """Re-render pages and feeds through the queues (after a template or setting change)."""
    from sqlalchemy.orm import sessionmaker

    from newsflow import admin

    if not (feeds or pages or everything):
        raise click.UsageError("say what to rebuild: --feeds, --pages or --all")
    settings = Settings.from_env()
    sessions = sessionmaker(_engine(settings))
    started = time.monotonic()
    with sessions.begin() as session:
        first = admin.last_outbox_id(session)
        total = admin.enqueue_rebuild(
            session, pages=pages, images=everything, feeds=feeds or everything
        )
    if total == 0:
        click.echo("nothing is published: nothing to rebuild")
        return
    left = _send_outbox(settings, first, total, f"sending {total} task(s)")
    drained = _wait_drained(settings, timeout=3600) if wait and not left else None
    took = time.monotonic() - started
    click.echo(
        f"rebuild: {total} task(s) queued in {took:.1f}s"
        + (f"; {left} wait in the outbox for the relay (Redis away?)" if left else "")
        + _drained_note(drained)
    )


def _drained_note(drained: bool | None) -> str:
    if drained is None:
        return ""
    if drained:
        return "; the workers took them all"
    return "; the queues were not empty after an hour: see `newsflow status`"


@click.command()
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
def backup(file: Path) -> None:
    """The whole store as JSON lines (FILE.gz: gzipped), streamed."""
    from newsflow.backup import backup as run

    if file.exists():
        raise click.UsageError(f"{file} exists; name a new file")
    settings = Settings.from_env()
    counts = run(reader_engine(settings), file)
    click.echo(f"wrote {file}: " + ", ".join(f"{n} {t}" for t, n in counts.items() if n))


@click.command()
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False, exists=True))
def restore(file: Path) -> None:
    """Load a backup into an empty store (migrated first); then `newsflow rebuild --all`."""
    from newsflow.backup import BackupError
    from newsflow.backup import restore as run
    from shared import migrate

    settings = Settings.from_env()
    migrate.upgrade(settings.database_url)
    try:
        counts = run(_engine(settings), file)
    except BackupError as exc:
        click.echo(f"newsflow restore: {exc}", err=True)
        sys.exit(2)
    click.echo(f"restored {file}: " + ", ".join(f"{n} {t}" for t, n in counts.items() if n))
    click.echo("now regenerate the artifacts: newsflow rebuild --all")


COMMANDS = [status, retry, rebuild, backup, restore]
