"""`newsflow up --demo` on the embedded default, as a newcomer runs it, then Ctrl-C."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import feedparser
import psutil
import pytest
import requests

from tests.conftest import free_port

pytestmark = pytest.mark.e2e


def start_up(tmp_path, *args: str, **popen) -> tuple[subprocess.Popen, str, str]:
    """`newsflow up` on the embedded default in ``tmp_path``, on free ports; returns the
    process, what it printed until it was ready, and the feed service's URL."""
    ports = {"INGEST_PORT": str(free_port()), "FEED_PORT": str(free_port())}
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")}
    env |= {"NEWSFLOW_DATA_DIR": str(tmp_path / "var"), **ports}
    proc = subprocess.Popen(
        [sys.executable, "-m", "newsflow", "up", *args], env=env, cwd=tmp_path,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **popen,
    )  # fmt: skip
    lines = []
    deadline = time.monotonic() + 120
    for line in proc.stdout:
        lines.append(line)
        if "Press Ctrl-C to stop." in line or time.monotonic() > deadline:
            break
    return proc, "".join(lines), f"http://127.0.0.1:{ports['FEED_PORT']}"


def stop_tree(proc: subprocess.Popen) -> None:
    """After a failed test: stop up and everything under it, not just up."""
    if proc.poll() is None:
        children = psutil.Process(proc.pid).children(recursive=True)
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
        for child in psutil.wait_procs(children, timeout=20)[1]:
            child.kill()


@pytest.fixture(scope="module")
def up(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("up")
    proc, output, feed = start_up(tmp_path, "--demo")
    yield proc, output, feed, tmp_path / "var"
    stop_tree(proc)


def test_up_demo_publishes_the_demo_articles_and_prints_the_urls(up):
    _proc, output, feed, _ = up
    assert "Press Ctrl-C to stop." in output, output
    assert f"{feed}/feeds/all.atom" in output
    assert output.count(" created ") == 4
    body = requests.get(f"{feed}/feeds/all.atom", timeout=10).content
    deadline = time.monotonic() + 30
    while len(re.findall(rb"<entry[ >]", body)) < 4 and time.monotonic() < deadline:
        time.sleep(0.2)
        body = requests.get(f"{feed}/feeds/all.atom", timeout=10).content
    assert len(feedparser.parse(body).entries) == 4


def test_the_readme_curl_example_works_with_the_printed_key(up):
    """The README's POST example, as a newcomer pastes it, with the key `up --demo` printed."""
    _proc, output, _feed, _ = up
    key = re.search(r"API key\s+(nf_live_\S+)", output).group(1)
    ingest = re.search(r"ingest API\s+(http://\S+)/v1/articles", output).group(1)
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    example = re.search(r"curl -X POST .*?-d '(\{.*?\})'", readme, re.S).group(1)
    resp = requests.post(
        f"{ingest}/v1/articles",
        data=example.encode("utf-8"),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {key}"},
        timeout=30,
    )
    assert resp.status_code in (200, 202), resp.text
    without = requests.post(f"{ingest}/v1/articles", data=example.encode(), timeout=30)
    assert without.status_code == 401


def test_up_runs_a_private_redis_on_a_socket_in_the_data_dir(up):
    _, _output, _, var = up
    assert (var / "redis.sock").is_socket()
    assert (var / "newsflow.db").exists()


def test_up_writes_readable_console_lines_by_default(up):
    """`newsflow up` is for a person at a terminal: `--log-format json` is the operators'."""
    _, _output, _, var = up
    lines = (var / "logs" / "worker.log").read_text(encoding="utf-8").splitlines()
    started = [line for line in lines if "task started" in line]
    assert started, lines[-20:]
    assert not started[0].startswith("{")
    assert " INFO    worker render.observe: task started  request_id=" in started[0]


# Last in this module: it stops the system the tests above share.
def test_ctrl_c_stops_every_process_it_started(up):
    proc, _output, feed, _ = up
    children = psutil.Process(proc.pid).children(recursive=True)
    assert len(children) >= 5  # redis, worker, relay, ingest, feed (and their workers)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) == 0
    assert "restart" not in proc.stdout.read()  # nothing is restarted while stopping
    _gone, alive = psutil.wait_procs(children, timeout=20)
    assert alive == []
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{feed}/healthz", timeout=2)


def test_ctrl_c_in_a_terminal_stops_every_process_it_started(tmp_path):
    """A terminal sends SIGINT to the whole foreground process group, not to one process;
    every server, and every worker of every server, must be gone afterwards."""
    # A group of its own, as a shell gives a foreground job.
    proc, _output, feed = start_up(tmp_path, start_new_session=True)
    try:
        # redis, worker + 2, relay, ingest + 2, feed + 2 (workers may still be forking)
        deadline = time.monotonic() + 20
        tree = psutil.Process(proc.pid).children(recursive=True)
        while len(tree) < 10 and time.monotonic() < deadline:
            time.sleep(0.2)
            tree = psutil.Process(proc.pid).children(recursive=True)
        assert len(tree) >= 7
        os.killpg(proc.pid, signal.SIGINT)
        assert proc.wait(timeout=60) == 0
        _gone, alive = psutil.wait_procs(tree, timeout=20)
        assert alive == []
        with pytest.raises(requests.ConnectionError):
            requests.get(f"{feed}/healthz", timeout=2)
    finally:
        stop_tree(proc)


def test_sigterm_stops_it_as_ctrl_c_does(tmp_path):
    """A service manager (systemd, `docker stop`) or `kill` sends SIGTERM."""
    proc, _output, _feed = start_up(tmp_path)
    try:
        tree = psutil.Process(proc.pid).children(recursive=True)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0  # an orderly stop, not death by signal (-15)
        told = proc.stdout.read()
        assert "stopping" in told
        assert "restart" not in told  # children stopped in order are not taken for crashed
        _gone, alive = psutil.wait_procs(tree, timeout=20)
        assert alive == []
    finally:
        stop_tree(proc)
