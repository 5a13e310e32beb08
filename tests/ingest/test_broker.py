"""Ingest's senders against a hung broker: a real listener that accepts TCP connections and
never answers, which is what a stopped or partitioned Redis looks like to a client."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from ingest.broker import (
    REQUEST_DEADLINE,
    make_celery_client,
    relay_sender,
    request_sender,
)
from newsflow import redis_server
from shared.redisurl import client
from shared.sending import BoundedSender, BrokerUnavailable, CircuitBreaker, TaskSender
from shared.tasknames import TASK_RENDER_PAGE


class HungPeer:
    """A TCP server on 127.0.0.1 that accepts every connection and never sends a byte."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.accepted: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.sock.getsockname()[1]}/0"

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted.append(conn)

    def __enter__(self) -> HungPeer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.sock.close()
        for conn in self.accepted:
            conn.close()


@pytest.fixture
def hung():
    with HungPeer() as peer:
        yield peer


def timed(fn) -> tuple[float, BaseException | None]:
    started = time.monotonic()
    try:
        fn()
    except Exception as exc:
        return time.monotonic() - started, exc
    return time.monotonic() - started, None


def test_a_send_to_a_hung_broker_gives_up_within_the_deadline(hung):
    send = request_sender(make_celery_client(hung.url))
    elapsed, exc = timed(lambda: send(TASK_RENDER_PAGE, ["a", 1]))
    assert isinstance(exc, BrokerUnavailable)
    assert elapsed < REQUEST_DEADLINE + 0.3, f"waited {elapsed:.2f}s"


def test_after_a_failed_send_the_breaker_refuses_at_once_without_the_broker(hung):
    send = request_sender(make_celery_client(hung.url))
    timed(lambda: send(TASK_RENDER_PAGE, ["a", 1]))
    connections = len(hung.accepted)
    assert not send.available()
    elapsed, exc = timed(lambda: send(TASK_RENDER_PAGE, ["b", 1]))
    assert isinstance(exc, BrokerUnavailable)
    assert elapsed < 0.05
    assert len(hung.accepted) == connections  # nothing new reached the broker


def test_after_the_cooldown_a_send_is_tried_again(hung):
    now = [0.0]
    breaker = CircuitBreaker(cooldown=5, clock=lambda: now[0])
    send = BoundedSender(TaskSender(make_celery_client(hung.url)), REQUEST_DEADLINE, breaker)
    timed(lambda: send(TASK_RENDER_PAGE, ["a", 1]))
    now[0] += 5
    _elapsed, exc = timed(lambda: send(TASK_RENDER_PAGE, ["b", 1]))
    assert isinstance(exc, BrokerUnavailable) and "within" in str(exc)  # tried, timed out
    assert not send.available()


def test_the_kombu_timeouts_end_a_hung_send_on_their_own(hung):
    """The sender's thread is freed by the socket timeout (1 s), not stuck until SIGCONT."""
    raw = TaskSender(make_celery_client(hung.url))
    elapsed, exc = timed(lambda: raw(TASK_RENDER_PAGE, ["a", 1]))
    assert exc is not None and "Timeout" in str(exc), exc
    assert 0.9 < elapsed < 2.0, f"took {elapsed:.2f}s"


def test_the_relay_sender_gives_up_within_its_deadline_and_has_no_breaker(hung):
    send = relay_sender(make_celery_client(hung.url))
    for _ in range(2):  # a breaker would refuse the second at once
        elapsed, exc = timed(lambda: send(TASK_RENDER_PAGE, ["a", 1]))
        assert exc is not None
        assert 0.9 < elapsed < 2.5, f"took {elapsed:.2f}s"


@contextmanager
def running_redis(data_dir: Path) -> Iterator[tuple[subprocess.Popen, str]]:
    """A redis-server of the caller's own: no worker of the session's stack reads it, and
    stopping it (SIGSTOP) disturbs no other test."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc, _ = redis_server.start(data_dir, port=port, persist=False)
    try:
        yield proc, f"redis://127.0.0.1:{port}/0"
    finally:
        proc.send_signal(signal.SIGCONT)  # in case it was left stopped
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def private_redis(tmp_path):
    with running_redis(tmp_path / "redis") as running:
        yield running


def test_a_healthy_broker_gets_the_task(private_redis):
    _proc, url = private_redis
    send = request_sender(make_celery_client(url))
    send(TASK_RENDER_PAGE, ["healthy", 1])
    assert send.available()
    with client(url) as conn:
        assert conn.llen("render") == 1


def test_a_stopped_redis_is_given_up_on_and_sends_go_again_after_sigcont(private_redis):
    proc, url = private_redis
    send = relay_sender(make_celery_client(url))
    send(TASK_RENDER_PAGE, ["before", 1])  # a pooled connection, as in a running service
    os.kill(proc.pid, signal.SIGSTOP)
    try:
        elapsed, exc = timed(lambda: send(TASK_RENDER_PAGE, ["while stopped", 1]))
        assert exc is not None and elapsed < 2.5, f"{elapsed:.2f}s {exc!r}"
    finally:
        os.kill(proc.pid, signal.SIGCONT)
    elapsed, exc = timed(lambda: send(TASK_RENDER_PAGE, ["after", 1]))
    assert exc is None and elapsed < 1.0, f"{elapsed:.2f}s {exc!r}"
