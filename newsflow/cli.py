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
        if demo:
            files = sorted(demo_dir().glob("*.txt"))
            results = import_files(
                files, HttpIngest(stack.ingest_url), demo_dir() / "images", "scimall", click.echo
            )
            ids = [r.article_id for r in results if r.article_id]
            _wait_published(stack.ingest_url, ids, stack.supervise)
        click.echo(
            "\nnewsflow is running:\n"
            f"  home page       {stack.feed_url}/\n"
            f"  feeds           {stack.feed_url}/feeds/all.atom  /feeds/all.rss  /feeds/all.json\n"
            f"  ingest API      {stack.ingest_url}/v1/articles\n"
            f"  article schema  {stack.ingest_url}/v1/schema\n"
            f"  health          {stack.ingest_url}/healthz  {stack.feed_url}/healthz\n"
            f"  logs            {settings.data_dir}/logs/\n"
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
    ingest_url: str, ids: list[str], supervise: Callable[[], None], timeout: float = 120
) -> None:
    deadline = time.monotonic() + timeout
    pending = set(ids)
    while pending and time.monotonic() < deadline:
        supervise()
        for article_id in list(pending):
            try:
                resp = requests.get(f"{ingest_url}/v1/articles/{article_id}", timeout=5)
            except requests.RequestException:
                break  # ingest is being restarted
            if resp.json()["status"] in ("published", "failed", "withdrawn"):
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
    "--source", default="scimall", show_default=True, help="Source id the articles are keyed under."
)
def import_(files: tuple[Path, ...], images_dir: Path | None, api: str | None, source: str) -> None:
    """Import seed-format article files through the ingest path."""
    from newsflow.clients import HttpIngest, InProcessIngest
    from newsflow.importer import import_files

    if images_dir is not None and not images_dir.is_dir():
        raise click.UsageError(f"--images {images_dir}: no such directory")
    if api:
        client = HttpIngest(api)
    else:
        from ingest.app import create_app

        settings = Settings.from_env()
        from shared import migrate

        migrate.upgrade(settings.database_url)
        client = InProcessIngest(create_app(settings))
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

    settings = Settings.from_env()
    ctx = IngestContext.build(settings)
    run_forever(ctx.sessions, ctx.send, settings.relay_interval)


@main.command()
@click.option(
    "--check", is_flag=True, help="Fail if the file on disk is stale instead of writing it."
)
def schema(check: bool) -> None:
    """Write the article JSON Schema (shared/article.schema.json) from the pydantic model."""
    from shared.schema_file import SCHEMA_PATH, render

    fresh = render()
    if check:
        if not SCHEMA_PATH.exists() or SCHEMA_PATH.read_text(encoding="utf-8") != fresh:
            click.echo(f"{SCHEMA_PATH} is stale: run `newsflow schema`", err=True)
            sys.exit(1)
        click.echo(f"{SCHEMA_PATH} is up to date")
        return
    SCHEMA_PATH.write_text(fresh, encoding="utf-8")
    click.echo(f"wrote {SCHEMA_PATH}")


if __name__ == "__main__":
    main()
