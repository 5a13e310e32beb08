"""One role per process, as docker compose runs them, and the health check of each.

``newsflow up`` starts every role as a child of its own (newsflow.launcher); compose runs one
role per container (docker-compose.yml). Both take the command line from the same place
(``Stack.commands``, ``worker_command``), so a server option changed for one is changed for
the other. ``serve`` and ``worker`` replace themselves with the server (``exec``), so in a
container no Python or shell parent stands between the server and Docker's stop signal.
"""

from __future__ import annotations

import os
import socket
import sys

import click

from shared.settings import Settings
from shared.tasknames import ALL_QUEUES


def _queues(value: str) -> tuple[str, ...]:
    names = tuple(q.strip() for q in value.split(",") if q.strip())
    unknown = [q for q in names if q not in ALL_QUEUES]
    if not names or unknown:
        raise click.BadParameter(
            f"{value!r}: name one or more of {', '.join(ALL_QUEUES)}", param_hint="--queues"
        )
    return names


def node_name(queues: tuple[str, ...]) -> str:
    """The worker's Celery node name before ``@host``: a pool per queue group on one host
    (the test runs both pools on one machine) needs a name each."""
    return "render-" + "-".join(queues)


QUEUES_OPTION = click.option(
    "--queues",
    default=",".join(ALL_QUEUES),
    show_default=True,
    help="Comma-separated queues this worker pool consumes.",
)


def _exec(cmd: list[str]) -> None:
    sys.stdout.flush()
    os.execv(cmd[0], cmd)  # noqa: S606 (an argv list, no shell: the server replaces us)


@click.command()
@click.argument("role", type=click.Choice(["ingest", "feed"]))
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to bind to (0.0.0.0 in a container).",
)
def serve(role: str, host: str) -> None:
    """Serve ingest (gunicorn, on INGEST_PORT) or feed (granian, on FEED_PORT), as `up` does."""
    from newsflow.launcher import Stack

    _exec(Stack(Settings.from_env(), host=host).commands()[role])


@click.command()
@QUEUES_OPTION
@click.option("--concurrency", default=2, show_default=True, help="Worker processes.")
def worker(queues: str, concurrency: int) -> None:
    """A render worker pool on some queues (e.g. images apart from feeds,render,notify)."""
    from newsflow.launcher import worker_command

    names = _queues(queues)
    _exec(worker_command(names, concurrency, node_name(names)))


@click.command()
@click.argument(
    "role",
    type=click.Choice(["ingest", "feed", "worker", "relay", "scheduler", "flower", "deps"]),
)
@QUEUES_OPTION
@click.option(
    "--flower-port",
    envvar="FLOWER_PORT",
    default=5555,
    show_default=True,
    help="Flower's port (or FLOWER_PORT, which flower reads too).",
)
def health(role: str, queues: str, flower_port: int) -> None:
    """Exit 0 if ROLE, running on this host, answers; 1 with the reason otherwise.

    ingest, feed: their /healthz (store and broker reachable) answers 200. worker: the pool on
    --queues answers a Celery ping. relay, scheduler: it completed a pass (a loop) in the
    last 30 s. flower: its
    /healthcheck answers. deps: the store and the broker answer (the image's default check).
    """
    problem = _CHECKS[role](Settings.from_env(), queues, flower_port)
    if problem:
        click.echo(f"unhealthy: {role}: {problem}", err=True)
        sys.exit(1)
    click.echo(f"healthy: {role}")


def _http(url: str) -> str | None:
    import requests

    try:
        resp = requests.get(url, timeout=3)
    except requests.RequestException as exc:
        return f"{url}: {type(exc).__name__}"
    return None if resp.status_code == 200 else f"{url} answered {resp.status_code}"


def _check_ingest(settings: Settings, _queues_: str, _port: int) -> str | None:
    return _http(f"http://127.0.0.1:{settings.ingest_port}/healthz")


def _check_feed(settings: Settings, _queues_: str, _port: int) -> str | None:
    return _http(f"http://127.0.0.1:{settings.feed_port}/healthz")


def _check_flower(settings: Settings, _queues_: str, port: int) -> str | None:
    return _http(f"http://127.0.0.1:{port}/healthcheck")


def _check_worker(settings: Settings, queues: str, _port: int) -> str | None:
    from celery import Celery

    node = f"{node_name(_queues(queues))}@{socket.gethostname()}"
    client = Celery(broker=settings.redis_url, set_as_current=False)
    client.conf.accept_content = ["json"]
    try:
        with client.connection_for_write() as conn:
            replies = client.control.ping(destination=[node], timeout=2, connection=conn)
    except Exception as exc:  # the broker is away: the pool cannot be asked, nor work
        return f"broker: {type(exc).__name__}"
    return None if replies else f"{node} did not answer a ping"


def _check_beat(role: str):
    def check(settings: Settings, _queues_: str, _port: int) -> str | None:
        from newsflow import heartbeat

        age = heartbeat.age(settings.data_dir, role)
        if age is None:
            return "no pass yet"
        return None if age < heartbeat.STALE_AFTER else f"no pass for {age:.0f} s"

    return check


_check_relay = _check_beat("relay")


def _check_deps(settings: Settings, _queues_: str, _port: int) -> str | None:
    from shared.db import make_engine
    from shared.health import check_database, check_redis

    engine = make_engine(settings.database_url)
    try:
        found = {"database": check_database(engine), "redis": check_redis(settings.redis_url)}
    finally:
        engine.dispose()
    bad = [f"{name} {state}" for name, state in found.items() if state != "ok"]
    return ", ".join(bad) or None


_CHECKS = {
    "ingest": _check_ingest,
    "feed": _check_feed,
    "flower": _check_flower,
    "worker": _check_worker,
    "relay": _check_relay,
    "scheduler": _check_beat("scheduler"),
    "deps": _check_deps,
}

COMMANDS = [serve, worker, health]
