"""`newsflow health` and `newsflow worker` as a container runs them: exit codes and messages."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from newsflow import heartbeat
from tests.conftest import free_port


def newsflow(tmp_path, *args: str, **env: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k not in ("INGEST_PORT", "FEED_PORT")}
    return subprocess.run(
        [sys.executable, "-m", "newsflow", *args],
        env={**base, "NEWSFLOW_DATA_DIR": str(tmp_path), **env},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_health_relay_is_unhealthy_before_its_first_pass(tmp_path):
    done = newsflow(tmp_path, "health", "relay")
    assert done.returncode == 1 and "no pass yet" in done.stderr


def test_health_relay_is_healthy_after_a_beat(tmp_path):
    heartbeat.Beat(tmp_path, "relay")()
    assert newsflow(tmp_path, "health", "relay").returncode == 0


def test_health_relay_is_unhealthy_when_its_beat_is_stale(tmp_path):
    beat = heartbeat.Beat(tmp_path, "relay")
    beat()
    old = time.time() - heartbeat.STALE_AFTER - 5
    os.utime(beat.file, (old, old))
    done = newsflow(tmp_path, "health", "relay")
    assert done.returncode == 1 and "no pass for" in done.stderr


def test_health_ingest_names_the_url_nobody_answers(tmp_path):
    port = free_port()
    done = newsflow(tmp_path, "health", "ingest", INGEST_PORT=str(port))
    assert done.returncode == 1 and f"127.0.0.1:{port}/healthz" in done.stderr


def test_worker_refuses_an_unknown_queue(tmp_path):
    done = newsflow(tmp_path, "worker", "--queues", "images,pictures")
    assert done.returncode == 2 and "images, render, feeds, notify" in done.stderr
