"""The circuit breaker and the bounded sender, on their own (the hung-broker tests are in
tests/ingest/test_broker.py)."""

from __future__ import annotations

import threading
import time

import pytest

from shared.sending import BoundedSender, BrokerUnavailable, CircuitBreaker


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_closed_breaker_allows():
    assert CircuitBreaker(cooldown=5, clock=Clock()).allows()


def test_a_failure_opens_the_breaker_for_the_cooldown():
    clock = Clock()
    breaker = CircuitBreaker(cooldown=5, clock=clock)
    breaker.failed()
    clock.now += 4.9
    assert not breaker.allows()
    clock.now += 0.1
    assert breaker.allows()


def test_a_success_closes_the_breaker():
    breaker = CircuitBreaker(cooldown=5, clock=Clock())
    breaker.failed()
    breaker.succeeded()
    assert breaker.allows()


class Blocking:
    """A send that does not return until released, recording the sends that ran."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.ran: list[list] = []

    def __call__(self, task, args, eta=None, headers=None) -> None:
        self.ran.append(args)
        self.release.wait(10)


def test_a_send_that_overruns_raises_and_opens_the_breaker():
    blocking = Blocking()
    send = BoundedSender(blocking, deadline=0.1, breaker=CircuitBreaker(cooldown=60))
    started = time.monotonic()
    with pytest.raises(BrokerUnavailable):
        send("t", ["a"])
    assert time.monotonic() - started < 0.5
    assert not send.available()
    blocking.release.set()


def test_a_send_that_fails_opens_the_breaker_and_keeps_its_error():
    def refused(task, args, eta=None, headers=None):
        raise ConnectionRefusedError("nobody there")

    send = BoundedSender(refused, deadline=1, breaker=CircuitBreaker(cooldown=60))
    with pytest.raises(ConnectionRefusedError):
        send("t", ["a"])
    assert not send.available()


def test_a_send_queued_behind_a_stuck_one_never_runs_once_its_deadline_passed():
    blocking = Blocking()
    send = BoundedSender(blocking, deadline=0.1)  # cooldown 0: every call is tried
    for args in (["first"], ["second"]):
        with pytest.raises(BrokerUnavailable):
            send("t", args)
    blocking.release.set()
    send("t", ["third"])
    assert blocking.ran == [["first"], ["third"]]
