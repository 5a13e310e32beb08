"""Leases (render.locks) against a real Redis (the test run's private server): renewed while
the holder works, lapsing within seconds when it dies, hangs, or never knew it had one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from render import locks
from shared.artifacts import LocalArtifactStore
from shared.redisurl import client

TTL = 1.0  # short, so the tests wait little; production leases are locks.LEASE_S


@pytest.fixture
def r(redis_srv):
    if redis_srv.proc is None or redis_srv.proc.poll() is not None:
        redis_srv.start()
    return client(redis_srv.url)


@pytest.fixture
def name() -> str:
    return f"newsflow:lock:test:{uuid.uuid4().hex}"


def wait_until(condition, timeout: float) -> float:
    """Poll ``condition`` until it holds; returns the seconds it took."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"not within {timeout} s")
        time.sleep(0.02)
    return time.monotonic() - started


def test_renewal_keeps_the_lease_while_the_holder_works(r, name):
    with locks.holding(r, name, ttl=TTL) as lease:
        time.sleep(3 * TTL)  # the work: three times the lease
        lease.check()
        assert r.get(name) == lease.token.encode()
        with pytest.raises(locks.LeaseBusy), locks.holding(r, name, ttl=TTL, wait=0.1):
            pass
    assert not r.exists(name)  # released on exit


def test_a_busy_lease_is_refused_after_the_brief_wait(r, name):
    with locks.holding(r, name, ttl=TTL):
        started = time.monotonic()
        with pytest.raises(locks.LeaseBusy), locks.holding(r, name, ttl=TTL, wait=0.3):
            pass
        assert time.monotonic() - started < 2.0


HOLDER = """
import sys, time
from render import locks
from shared.redisurl import client
lease = locks.Lease(client(sys.argv[1]), sys.argv[2], ttl=float(sys.argv[3]))
assert lease.acquire()
print("held", flush=True)
time.sleep(600)
"""


def test_a_killed_holder_frees_the_lock_within_the_lease(r, redis_srv, name):
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, redis_srv.url, name, str(TTL)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        time.sleep(3 * TTL)  # the holder works on: its renewals keep the lock
        assert r.exists(name)
        os.kill(holder.pid, signal.SIGKILL)  # as the OOM killer would
        holder.wait(timeout=10)
        took = wait_until(lambda: not r.exists(name), timeout=10 * TTL)
    finally:
        holder.kill()
        holder.wait(timeout=10)
    assert took <= TTL + 0.5
    with locks.holding(r, name, ttl=TTL, wait=0):
        pass


def test_a_hung_holder_lets_the_lease_lapse_and_may_not_write(r, name, tmp_path):
    store = LocalArtifactStore(tmp_path)
    # max_hold: the holder stops renewing, as if it hung (a read that never returns).
    hung = locks.holding(r, name, ttl=TTL, max_hold=0.1)
    with pytest.raises(locks.LeaseLost), hung as lease:
        guarded = locks.LeasedStore(store, lease)
        guarded.put("feeds/a.rss", b"written while held")
        wait_until(lambda: not r.exists(name), timeout=5 * TTL)
        # Someone else may take the lock now, and the hung holder's writes are refused.
        with locks.holding(r, name, ttl=TTL, wait=0), pytest.raises(locks.LeaseLost):
            guarded.put("feeds/a.rss", b"written after the lease lapsed")
    assert store.get("feeds/a.rss") == b"written while held"


def test_a_lease_taken_over_is_reported_lost_at_the_end(r, name):
    # The lease lapsed unnoticed (the process stalled) and another holder took the key:
    # whatever the first holder wrote may have crossed the second's, so it must redo it.
    with pytest.raises(locks.LeaseLost), locks.holding(r, name, ttl=TTL):
        r.set(name, "another holder's token", px=int(TTL * 1000))
    assert r.get(name) == b"another holder's token"  # not released by the old holder


SPIN = "local n = 0 for i = 1, tonumber(ARGV[1]) do n = n + 1 end return n"


def stall_redis(url: str, seconds: float) -> threading.Thread:
    """Block the real server for about ``seconds`` (at least, on a loaded machine) with a
    busy Lua script, as a stalled Redis would be. Under Redis's busy-reply threshold (5 s),
    past which it would answer others with BUSY instead of making them wait."""
    spinner = client(url, timeout=30)
    fastest = float("inf")
    for _ in range(3):
        started = time.monotonic()
        spinner.eval(SPIN, 0, 2_000_000)
        fastest = min(fastest, time.monotonic() - started)
    iterations = int(2_000_000 / fastest * seconds)
    thread = threading.Thread(target=spinner.eval, args=(SPIN, 0, iterations))
    thread.start()
    return thread


def test_a_lease_granted_after_the_client_gave_up_lapses_by_itself(r, redis_srv, name):
    # A client that gives up after 0.2 s, on a connection made before Redis stalled.
    impatient = redis.Redis.from_url(redis_srv.url, socket_timeout=0.2, retry=Retry(NoBackoff(), 0))
    impatient.ping()
    probe = redis.Redis.from_url(redis_srv.url, socket_timeout=0.5, retry=Retry(NoBackoff(), 0))
    probe.ping()
    stall = stall_redis(redis_srv.url, 2.0)

    def stalled() -> bool:
        try:
            probe.ping()
        except redis.TimeoutError:
            return True
        return False

    wait_until(stalled, timeout=10)
    lease = locks.Lease(impatient, name, ttl=TTL)
    with pytest.raises(redis.TimeoutError):
        lease.acquire()
    stall.join(timeout=30)
    # Redis ran the SET after the client gave up: a lock nobody knows it holds...
    assert r.get(name) == lease.token.encode()
    assert 0 < r.pttl(name) <= TTL * 1000
    # ...and nobody renews, so it is free again within the lease.
    wait_until(lambda: not r.exists(name), timeout=TTL + 0.5)
