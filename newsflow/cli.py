"""``newsflow``: run the system, import articles, manage the schema."""

from __future__ import annotations

import logging
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path

import click
import requests

from newsflow import admin_cli, localkeys, roles_cli
from newsflow.partner_cli import partner
from shared.settings import Settings


@click.group()
def main() -> None:
    """newsflow: event-driven content distribution."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)


@main.command()
@click.option("--demo", is_flag=True, help="Import the demo articles once everything is up.")
@click.option(
    "--host", default="127.0.0.1", show_default=True, help="Address the web services bind to."
)
@click.option("--concurrency", default=2, show_default=True, help="Worker processes.")
def up(demo: bool, host: str, concurrency: int) -> None:
    """Start Redis (private unless REDIS_URL is set), worker, relay and both web services."""
    from newsflow.clients import HttpIngest
    from newsflow.importer import import_files
    from newsflow.launcher import Stack, demo_dir
    from newsflow.supervisor import StopSignals

    settings = Settings.from_env()
    # Ctrl-C, `kill`, a service manager's stop and a closed terminal (SIGHUP) all end in the
    # same orderly stop.
    signals = StopSignals()
    signals.install()
    stack = Stack(settings, host=host, concurrency=concurrency, say=click.echo, hold=signals.held)
    try:
        click.echo(f"newsflow: starting in {settings.data_dir} ...")
        stack.start()
        key = None
        if demo:
            from shared.partners import SCOPES

            # The demo partner holds every scope, so the README's examples work as pasted.
            key = localkeys.issue(stack.settings, "demo", list(SCOPES), ["scimall", "example"])
            files = sorted(demo_dir().glob("*.txt"))
            client = HttpIngest(stack.ingest_url, key=key)
            results = import_files(files, client, demo_dir() / "images", "scimall", click.echo)
            ids = [r.article_id for r in results if r.article_id]
            _wait_published(client, ids, stack.supervise)
        click.echo(
            "\nnewsflow is running:\n"
            f"  home page       {stack.feed_url}/\n"
            f"  feeds           {stack.feed_url}/feeds/all.atom  /feeds/all.rss  /feeds/all.json\n"
            f"  ingest API      {stack.ingest_url}/v1/articles\n"
            f"  article schema  {stack.ingest_url}/v1/schema\n"
            f"  health          {stack.ingest_url}/healthz  {stack.feed_url}/healthz\n"
            f"  API reference   {stack.ingest_url}/docs/\n"
            + (f"  API key         {key}\n" if key else "")
            + f"  logs            {settings.data_dir}/logs/\n"
            "A process that exits is restarted. Press Ctrl-C to stop."
        )
        while True:
            stack.supervise()
            time.sleep(0.25)
    except KeyboardInterrupt:
        click.echo("\nnewsflow: stopping ...")
    except RuntimeError as exc:  # a child failed to start, or keeps dying (GaveUp)
        click.echo(f"newsflow: {exc}\nnewsflow: stopping ...", err=True)
        _stop(stack)
        sys.exit(1)
    _stop(stack)


def _stop(stack) -> None:
    # A second Ctrl-C (or SIGTERM) must not cut the ordered stop short: web and worker first,
    # Redis last, each child's group given its time. Nothing is restarted from here on.
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    stack.stop()


def _wait_published(
    client, ids: list[str], supervise: Callable[[], None], timeout: float = 120
) -> None:
    deadline = time.monotonic() + timeout
    pending = set(ids)
    while pending and time.monotonic() < deadline:
        supervise()
        for article_id in list(pending):
            try:
                status = client.status(article_id).body.get("status")
            except requests.RequestException:
                break  # ingest is being restarted
            if status in ("published", "failed", "withdrawn"):
                pending.discard(article_id)
        time.sleep(0.2)
    if pending:
        click.echo(
            f"newsflow: {len(pending)} demo article(s) still not published; see the worker log",
            err=True,
        )


@main.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--images",
    "images_dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Directory holding the image files the articles name (default: images/ beside each file).",
)
@click.option(
    "--api",
    envvar="NEWSFLOW_API",
    help="Ingest API base URL; without it, the ingest path runs in this process.",
)
@click.option(
    "--key",
    envvar="NEWSFLOW_API_KEY",
    help="API key for --api (scope ingest:write, bound to --source); or NEWSFLOW_API_KEY.",
)
@click.option(
    "--source", default="scimall", show_default=True, help="Source id the articles are keyed under."
)
def import_(
    files: tuple[Path, ...], images_dir: Path | None, api: str | None, key: str | None, source: str
) -> None:
    """Import seed-format article files through the ingest path."""
    from newsflow.clients import HttpIngest, InProcessIngest
    from newsflow.importer import import_files

    if images_dir is not None and not images_dir.is_dir():
        raise click.UsageError(f"--images {images_dir}: no such directory")
    if api:
        if not key:
            raise click.UsageError("--api needs an API key: --key KEY or NEWSFLOW_API_KEY")
        client = HttpIngest(api, key=key)
    else:
        from ingest.app import create_app
        from shared import keysecret, migrate

        settings = keysecret.ensure(Settings.from_env())
        migrate.upgrade(settings.database_url)
        # In-process, as an operator on this machine: a key of our own, bound to --source.
        own = localkeys.issue(
            settings, "local-import", ["ingest:write"], [source], localkeys.UNLIMITED
        )
        client = InProcessIngest(create_app(settings), own)
    results = import_files(list(files), client, images_dir, source, click.echo)
    failed = [r for r in results if not r.ok]
    if failed:
        click.echo(
            f"newsflow import: {len(failed)} of {len(results)} file(s) not imported", err=True
        )
        sys.exit(1)


@main.group()
def db() -> None:
    """The SQL store's schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Bring the database to the newest schema (Alembic)."""
    from shared import migrate

    settings = Settings.from_env()
    migrate.upgrade(settings.database_url)
    click.echo("database is at the newest schema")


@main.command()
def relay() -> None:
    """Send committed outbox rows to the broker, forever."""
    from ingest.context import IngestContext
    from ingest.relay import run_forever
    from newsflow import heartbeat

    settings = Settings.from_env()
    ctx = IngestContext.build(settings)
    # run_forever asks `stop` before every pass: the pass's heartbeat (`newsflow health relay`).
    beat = heartbeat.Beat(settings.data_dir, "relay")
    run_forever(ctx.sessions, ctx.relay_send, settings.relay_interval, stop=lambda: beat() or False)


@main.command()
def scheduler() -> None:
    """Run the periodic jobs, forever: embargo releases (on time, from the database, so a
    restart or a Redis outage loses none) and audit-log pruning. Two may run at once."""
    import threading

    from newsflow import heartbeat
    from newsflow.scheduler import Scheduler, SchedulerContext, default_jobs

    settings = Settings.from_env()
    stop = threading.Event()
    # A stop ends the current pass first: a claim and its outbox row commit together, and
    # a row not yet sent is the relay's.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    # Every loop touches its heartbeat (`newsflow health scheduler`): a loop stuck in a job
    # (a database that accepts connections and never answers) stops it.
    beat = heartbeat.Beat(settings.data_dir, "scheduler")
    Scheduler(SchedulerContext.build(settings), default_jobs()).run_forever(stop, beat)


@main.command()
@click.option(
    "--check", is_flag=True, help="Fail if the file on disk is stale instead of writing it."
)
def schema(check: bool) -> None:
    """Write the generated contracts: the article JSON Schema (shared/article.schema.json)
    and each service's OpenAPI document (docs/openapi/), from the pydantic models."""
    from newsflow.generated import files

    stale = []
    for path, render in files().items():
        fresh = render()
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if check:
            if current != fresh:
                stale.append(path)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(fresh, encoding="utf-8")
        click.echo(f"wrote {path}")
    if stale:
        for path in stale:
            click.echo(f"{path} is stale: run `newsflow schema`", err=True)
        sys.exit(1)
    if check:
        click.echo("the generated contracts are up to date")


main.add_command(partner)
for _command in admin_cli.COMMANDS + roles_cli.COMMANDS:
    main.add_command(_command)


if __name__ == "__main__":
    main()
