"""How ``newsflow up`` starts and stops its child processes.

Each child runs in a process group of its own, so a Ctrl-C in the terminal reaches only the
launcher, which then stops the children in its own order (web and worker first, Redis last)
instead of every process getting SIGINT at once. Stopping signals the child's whole group:
granian, gunicorn and Celery are each a leader with workers, and a worker must not outlive
its leader (seen: a granian worker still answering on its port after the launcher had
exited). On Linux a child is also told to stop if the launcher dies without cleaning up
(``PR_SET_PDEATHSIG``, prctl(2)).

A child that died by itself (``kill -9`` of a Celery or gunicorn master) can leave workers
behind in its group, still holding its port or a task; ``reap`` kills them and waits until
they are gone, so the restarted child finds its port free.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def _die_with_parent() -> Callable[[], None] | None:
    if not sys.platform.startswith("linux"):
        return None
    # Looked up here, in the parent: after fork only async-signal-safe work is safe.
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    return lambda: prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def popen(cmd: list[str], **kwargs) -> subprocess.Popen:
    return subprocess.Popen(cmd, start_new_session=True, preexec_fn=_die_with_parent(), **kwargs)


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)  # the group id is the leader's pid (start_new_session)


def stop(proc: subprocess.Popen, timeout: float = 15) -> None:
    """SIGTERM to the child's group, SIGKILL if it is not gone in ``timeout`` seconds; then
    SIGKILL to whatever of the group outlived its leader."""
    if proc.poll() is None:
        _signal_group(proc, signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        _signal_group(proc, signal.SIGKILL)
        proc.wait()
    reap(proc)


def reap(proc: subprocess.Popen, timeout: float = 5) -> None:
    """For a child that has exited: SIGKILL what is left of its group, and wait (at most
    ``timeout`` seconds) until none of it runs any more."""
    _signal_group(proc, signal.SIGKILL)
    deadline = time.monotonic() + timeout
    while group_running(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.02)


def group_running(pgid: int) -> bool:
    """Whether a process of group ``pgid`` still runs. A zombie does not count: it holds no
    port and no file, and its parent (init, for an orphaned worker) reaps it when it will."""
    proc_fs = Path("/proc")
    if not (proc_fs / "self" / "stat").exists():  # no procfs: any member, zombies too
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        return True
    for stat in proc_fs.glob("[0-9]*/stat"):
        try:
            # proc(5): "pid (comm) state ppid pgrp ..."; comm may hold spaces and parentheses.
            state, _ppid, pgrp = stat.read_text().rsplit(")", 1)[1].split()[:3]
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile
        if int(pgrp) == pgid and state not in ("Z", "X"):
            return True
    return False
