"""``newsflow up``'s supervisor: a child that exits unexpectedly is restarted, after a backoff.

Once the system is up, ``Supervisor.check`` (called by ``up`` every quarter second) notices a
child that has exited, kills what is left of its process group (``children.reap``: a killed
Celery master leaves its pool processes, a killed gunicorn or granian master its workers),
says so on the console and in the child's log, and starts it again after a delay that doubles
with each crash in a row (``Backoff``). A child that keeps crashing soon after it starts (a
port taken, a broken configuration) is not restarted forever: after ``Backoff.give_up_after``
such crashes in a row ``check`` raises ``GaveUp`` and ``up`` stops everything, so the failure
is plain instead of a system that looks up and is not (and a service manager can take over).

Nothing is restarted once ``stop`` has begun, and a stop signal cannot land between starting
a child and recording it (``StopSignals.held``), so the ordered stop always knows every child.
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from newsflow import children


@dataclass(frozen=True)
class Backoff:
    """How long to wait before restarting a child that has crashed ``failures`` times in a row.

    A run of ``healthy_after`` seconds or more ends the row: the next crash counts as the
    first again.
    """

    first: float = 0.5
    cap: float = 30.0
    healthy_after: float = 60.0
    give_up_after: int = 8  # crashes in a row; the 8th comes about a minute after the 1st

    def failures_after_crash(self, failures: int, ran_for: float) -> int:
        return 1 if ran_for >= self.healthy_after else failures + 1

    def delay(self, failures: int) -> float:
        return min(self.first * 2 ** (failures - 1), self.cap)

    def gives_up(self, failures: int) -> bool:
        return failures >= self.give_up_after


def _stamped(message: str) -> str:
    return f"{datetime.now(UTC).isoformat(timespec='seconds')} newsflow: {message}"


class GaveUp(RuntimeError):
    pass


class StopSignals:
    """SIGINT, SIGTERM and SIGHUP as one KeyboardInterrupt, except inside ``held()``, where it
    is kept and raised as the block ends. Only the first counts: a second Ctrl-C must not cut
    the ordered stop short, not even before ``up`` has begun it."""

    def __init__(self) -> None:
        self._held = False
        self._pending = False
        self._raised = False

    def install(self) -> None:
        # SIGINT is set explicitly: a shell starts a background job with SIGINT ignored, and
        # Python then leaves it ignored.
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, self._on_signal)

    def _on_signal(self, signum, frame) -> None:
        if self._raised:
            return
        if self._held:
            self._pending = True
            return
        self._raised = True
        raise KeyboardInterrupt

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        self._held = True
        try:
            yield
        finally:
            self._held = False
        if self._pending and not self._raised:
            self._raised = True
            raise KeyboardInterrupt


@dataclass
class Child:
    name: str
    spawn: Callable[[], subprocess.Popen]
    log: Path
    proc: subprocess.Popen
    started_at: float
    failures: int = 0  # crashes in a row
    restart_at: float | None = None  # set while it waits out its backoff


class Supervisor:
    def __init__(
        self,
        say: Callable[[str], None] = print,
        backoff: Backoff = Backoff(),
        hold: Callable[[], AbstractContextManager] = contextlib.nullcontext,
        clock: Callable[[], float] = time.monotonic,
        line: Callable[[str], str] | None = None,
    ) -> None:
        self.say = say
        self.backoff = backoff
        self.hold = hold
        self.clock = clock
        # How a note is written into a child's log (newsflow.launcher: the children's format).
        self.line = line or _stamped
        self.children: dict[str, Child] = {}
        self.stopping = False

    def add(self, name: str, spawn: Callable[[], subprocess.Popen], log: Path) -> None:
        """Start a child and keep it under supervision (in the order added)."""
        with self.hold():
            self.children[name] = Child(name, spawn, log, spawn(), self.clock())

    @property
    def procs(self) -> dict[str, subprocess.Popen]:
        return {name: child.proc for name, child in self.children.items()}

    def first_exited(self) -> Child | None:
        return next((c for c in self.children.values() if c.proc.poll() is not None), None)

    def check(self) -> None:
        """Notice children that have exited and restart those whose backoff is over."""
        for child in self.children.values():
            if self.stopping:
                return
            if child.restart_at is None and child.proc.poll() is not None:
                self._crashed(child)
            elif child.restart_at is not None and self.clock() >= child.restart_at:
                self._restart(child)

    def _crashed(self, child: Child) -> None:
        children.reap(child.proc)
        code = child.proc.returncode
        child.failures = self.backoff.failures_after_crash(
            child.failures, self.clock() - child.started_at
        )
        if self.backoff.gives_up(child.failures):
            message = (
                f"{child.name} exited with {code}, {child.failures} times in a row, each "
                f"within {self.backoff.healthy_after:.0f}s of starting; giving up "
                f"(see {child.log})"
            )
            self._log(child, message)
            raise GaveUp(message)
        delay = self.backoff.delay(child.failures)
        child.restart_at = self.clock() + delay
        self._tell(
            child, f"{child.name} exited with {code}; restarting in {delay:g}s "
            f"(restart {child.failures})"
        )  # fmt: skip

    def _restart(self, child: Child) -> None:
        with self.hold():
            child.proc = child.spawn()
            child.started_at = self.clock()
            child.restart_at = None
        self._tell(child, f"{child.name} restarted (pid {child.proc.pid})")

    def _tell(self, child: Child, message: str) -> None:
        self.say(f"newsflow: {message}")
        self._log(child, message)

    def _log(self, child: Child, message: str) -> None:
        with child.log.open("a", encoding="utf-8") as log:
            log.write(self.line(message) + "\n")

    def stop(self, order: list[str]) -> None:
        """Stop every child, in ``order``; nothing is restarted from here on."""
        self.stopping = True
        for name in order:
            children.stop(self.children[name].proc)
