"""How ``newsflow up`` starts and stops its child processes.

Each child runs in a process group of its own, so a Ctrl-C in the terminal reaches only the
launcher, which then stops the children in its own order (web and worker first, Redis last)
instead of every process getting SIGINT at once. Stopping signals the child's whole group:
granian, gunicorn and Celery are each a leader with workers, and a worker must not outlive
its leader (seen: a granian worker still answering on its port after the launcher had
exited). On Linux a child is also told to stop if the launcher dies without cleaning up
(``PR_SET_PDEATHSIG``, prctl(2)).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
from collections.abc import Callable

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
    _signal_group(proc, signal.SIGKILL)
