"""Liveness of a role that answers no HTTP (the outbox relay): a file it touches every pass.

A relay that is alive but stuck (a pass hung on a database that accepts connections and never
answers) holds no port a probe could ask, and a check of Redis and the database from beside it
would still pass. The file's age tells: a pass ends within seconds even when the broker is
away (each send gives up after 1 s, shared.tasknames.SENDER_CONF, and the relay backs off at
most ``ingest.relay.MAX_BACKOFF``), so a file older than ``STALE_AFTER`` means no pass ran.

One file per role and host (a container's host name is its own), so replicas that share the
data dir (a compose volume) do not vouch for one another.
"""

from __future__ import annotations

import socket
import time
from pathlib import Path

STALE_AFTER = 30.0  # seconds


def path(data_dir: Path, role: str) -> Path:
    return data_dir / "run" / f"{role}@{socket.gethostname()}.alive"


class Beat:
    """Touches the role's file, at most once a second (the relay loops every 0.5 s)."""

    def __init__(self, data_dir: Path, role: str) -> None:
        self.file = path(data_dir, role)
        self.file.parent.mkdir(parents=True, exist_ok=True)
        self.last = 0.0

    def __call__(self) -> None:
        now = time.monotonic()
        if now - self.last >= 1.0:
            self.file.touch()
            self.last = now


def age(data_dir: Path, role: str) -> float | None:
    """Seconds since the role's last beat on this host, or None if it never beat."""
    try:
        return max(0.0, time.time() - path(data_dir, role).stat().st_mtime)
    except FileNotFoundError:
        return None
