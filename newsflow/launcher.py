"""``newsflow up``: every part of the system as child processes of one command.

Redis (private, on a unix socket in the data dir, unless REDIS_URL is set), the schema
migration, one Celery worker, the outbox relay, the scheduler (newsflow.scheduler), the
ingest API under gunicorn and the feed service under granian (chosen by measurement:
docs/benchmarks.md, Serving).
Once everything answers, a child that exits is restarted with a backoff (newsflow.supervisor).
Ctrl-C stops every process it started (newsflow.children).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import requests
from celery import Celery

from newsflow import children, redis_server
from newsflow.supervisor import Supervisor
from shared import keysecret, migrate
from shared.settings import Settings
from shared.tasknames import ALL_QUEUES


@dataclass
class Stack:
    settings: Settings
    host: str = "127.0.0.1"
    concurrency: int = 2  # one worker, a process per core (2 here)
    say: Callable[[str], None] = print  # where restarts are told
    # Around starting a child, so a stop signal cannot land before it is recorded.
    hold: Callable[[], AbstractContextManager] = nullcontext
    supervisor: Supervisor = field(init=False)

    def __post_init__(self) -> None:
        self.supervisor = Supervisor(say=self.say, hold=self.hold)

    @property
    def procs(self) -> dict[str, subprocess.Popen]:
        return self.supervisor.procs

    @property
    def ingest_url(self) -> str:
        return f"http://{self.host}:{self.settings.ingest_port}"

    @property
    def feed_url(self) -> str:
        return f"http://{self.host}:{self.settings.feed_port}"

    def env(self) -> dict[str, str]:
        return {**os.environ, **self.settings.to_env()}

    def commands(self) -> dict[str, list[str]]:
        py = sys.executable
        s = self.settings
        gunicorn = [
            py,
            "-m",
            "gunicorn",
            "--workers",
            "2",
            "--no-control-socket",
            "--access-logfile",
            "-",
        ]
        return {
            "worker": worker_command(ALL_QUEUES, self.concurrency, f"render-{os.getpid()}"),
            "relay": [py, "-m", "newsflow", "relay"],
            # Embargo releases and the other periodic jobs (newsflow.scheduler).
            "scheduler": [py, "-m", "newsflow", "scheduler"],
            # gthread: a request waiting on a slow part (a /healthz probe of a hung Redis
            # waits its 1 s) holds a thread, not one of the two processes.
            "ingest": [
                *gunicorn, "--threads", "4",
                "--worker-class", "ingest.serving.JsonErrorThreadWorker",
                "--bind", f"{self.host}:{s.ingest_port}", "ingest.wsgi:app",
            ],
            "feed": [
                py, "-m", "granian", "--interface", "wsgi", "--host", self.host,
                "--port", str(s.feed_port), "--workers", "2", "--blocking-threads", "1",
                "--no-ws", "--workers-kill-timeout", "10", "feed.wsgi:app",
            ],
        }  # fmt: skip

    def start(self) -> None:
        # The key secret every ingest and feed process hashes API keys with (shared.keysecret).
        self.settings = keysecret.ensure(self.settings)
        s = self.settings
        s.data_dir.mkdir(parents=True, exist_ok=True)
        logs = s.data_dir / "logs"
        logs.mkdir(exist_ok=True)
        if s.embedded_redis:
            spawn = partial(redis_server.spawn, s.data_dir, socket=s.redis_socket)
            self.supervisor.add("redis", spawn, redis_server.log_path(s.data_dir))
            redis_server.wait_ready(self.procs["redis"], s.redis_url, s.data_dir)
        migrate.upgrade(s.database_url)
        for name, cmd in self.commands().items():
            log = logs / f"{name}.log"
            spawn = self._spawn_worker if name == "worker" else self._spawn
            self.supervisor.add(name, partial(spawn, cmd, log), log)
        self.wait_healthy()

    def _spawn(self, cmd: list[str], log: Path) -> subprocess.Popen:
        with log.open("ab") as out:
            return children.popen(cmd, env=self.env(), stdout=out, stderr=subprocess.STDOUT)

    def _spawn_worker(self, cmd: list[str], log: Path) -> subprocess.Popen:
        """The worker, after the tasks a dead predecessor had taken are queued again.

        A task is acknowledged after it ran (acks_late), so a worker killed mid-task leaves
        it "unacked" in Redis, where the broker gives it back only after the visibility
        timeout (15 min, render.app). On the private Redis of ``up`` this worker is the only
        consumer and its predecessor is dead, so every unacked task is an orphan: putting
        them back now makes a crash of the worker's master cost seconds. The tasks are
        idempotent, so one that had in fact finished runs again harmlessly."""
        if self.settings.embedded_redis:
            try:
                restored = restore_unacked(self.settings.redis_url)
            except Exception as exc:  # Redis restarting too: the visibility timeout remains
                restored, note = 0, f"could not queue its tasks again ({exc})"
            else:
                note = f"{restored} task(s) it had taken are queued again"
            if restored or "could not" in note:
                with log.open("a", encoding="utf-8") as out:
                    out.write(f"newsflow: worker starting; {note}\n")
        return self._spawn(cmd, log)

    def wait_healthy(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        self.wait_worker(deadline)
        for url in (self.ingest_url, self.feed_url):
            while True:
                self.check_alive()
                try:
                    if requests.get(f"{url}/healthz", timeout=2).status_code == 200:
                        break
                except requests.ConnectionError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{url}/healthz did not answer 200 within {timeout:.0f}s")
                time.sleep(0.2)

    def wait_worker(self, deadline: float) -> None:
        """Until a worker answers a broadcast ping, tasks would only wait in the queue."""
        client = Celery(broker=self.settings.redis_url, set_as_current=False)
        client.conf.accept_content = ["json"]
        # A connection of its own, not one from kombu's process-wide pool, which may hold a
        # connection to a Redis that has restarted since.
        with client.connection_for_write() as conn:
            while not client.control.ping(timeout=0.5, connection=conn):
                self.check_alive()
                if time.monotonic() > deadline:
                    raise RuntimeError("the worker did not answer a ping; see its log")

    def check_alive(self) -> None:
        """While starting: a child that exits is a failure to start (a port taken, a broken
        configuration), told at once rather than restarted."""
        exited = self.supervisor.first_exited()
        if exited is not None:
            raise RuntimeError(
                f"{exited.name} exited with {exited.proc.returncode}; see {exited.log}"
            )

    def supervise(self) -> None:
        """Once up: restart children that exited (raises ``GaveUp`` when one keeps crashing)."""
        self.supervisor.check()

    def stop(self) -> None:
        # Web and worker first, Redis last, so nothing loses its broker mid-task.
        order = [n for n in self.procs if n != "redis"] + (
            ["redis"] if "redis" in self.procs else []
        )
        self.supervisor.stop(order)


def worker_command(queues: Sequence[str], concurrency: int, name: str) -> list[str]:
    """A Celery worker consuming ``queues``, its node called ``name@<host>``: ``newsflow up``
    runs one on every queue, compose one pool per group of queues (``newsflow worker``)."""
    return [
        sys.executable, "-m", "celery", "-A", "render.worker", "worker", "--loglevel", "INFO",
        "-Q", ",".join(queues), "--concurrency", str(concurrency), "--hostname", f"{name}@%h",
    ]  # fmt: skip


def restore_unacked(redis_url: str) -> int:
    """Put every task taken but not acknowledged back on its queue (kombu's Redis
    transport keeps them in a hash with an index by delivery time); returns how many."""
    client = Celery(broker=redis_url, set_as_current=False)
    client.conf.accept_content = ["json"]
    with client.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1)
        qos = conn.default_channel.qos
        with conn.default_channel.conn_or_acquire() as redis_client:
            tags = redis_client.zrange(qos.unacked_index_key, 0, -1)
            for tag in tags:
                qos.restore_by_tag(tag, redis_client)
    return len(tags)


def demo_dir() -> Path:
    return Path(__file__).parent / "demo" / "seed"
