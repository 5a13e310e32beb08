"""`newsflow up` restarts a child that dies (`kill -9`), and the system keeps publishing.

One `newsflow up` on the embedded default serves the whole module; each test kills one child's
leader and checks that a new one answers, that nothing of the old one is left running, and that
an article posted afterwards is published.
"""

from __future__ import annotations

import itertools
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pytest
import requests
from celery import Celery

from newsflow import localkeys
from newsflow.supervisor import Backoff, GaveUp, StopSignals, Supervisor
from shared import keysecret
from shared.redisurl import client as redis_client
from shared.settings import Settings
from tests.conftest import FIXTURES, free_port
from tests.newsflow.test_up import start_up, stop_tree

# Generous: a Celery worker boots in seconds on an idle machine, in many on a loaded one.
RESTART_TIMEOUT = 90
PUBLISH_TIMEOUT = 90


@dataclass
class Up:
    proc: psutil.Popen
    var: Path
    ingest: str
    feed: str
    output: list[str] = field(default_factory=list)
    key: str = ""

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}

    @property
    def redis_url(self) -> str:
        return f"redis+socket://{self.var / 'redis.sock'}"

    def child(self, match: Callable[[list[str]], bool]) -> psutil.Process | None:
        for proc in psutil.Process(self.proc.pid).children():
            try:
                if match(proc.cmdline()) and running(proc):
                    return proc
            except psutil.NoSuchProcess:
                continue
        return None

    def printed(self) -> str:
        return "".join(self.output)


def running(proc: psutil.Process) -> bool:
    """Alive and not a zombie (a zombie holds no port and no task)."""
    try:
        return proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def is_worker(cmd: list[str]) -> bool:
    return "celery" in cmd and "worker" in cmd


def is_relay(cmd: list[str]) -> bool:
    return cmd[-2:] == ["newsflow", "relay"]


def is_ingest(cmd: list[str]) -> bool:
    return "gunicorn" in cmd


def is_feed(cmd: list[str]) -> bool:
    return "granian" in cmd


def is_redis(cmd: list[str]) -> bool:
    return bool(cmd) and "redis-server" in cmd[0]  # it retitles itself "redis-server host:port"


@pytest.fixture(scope="module")
def up(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("supervised")
    proc, output, feed = start_up(tmp_path)
    try:
        assert "Press Ctrl-C to stop." in output, output
        ingest = re.search(r"ingest API\s+(http://\S+)/v1/articles", output).group(1)
        settings = keysecret.ensure(Settings.from_env({"NEWSFLOW_DATA_DIR": str(tmp_path / "var")}))
        key = localkeys.issue(settings, "tests", ["ingest:write", "admin"], ["tests"])
        running_up = Up(proc, tmp_path / "var", ingest, feed, [output], key)
        # Keep reading what it prints (restarts are told there), so its pipe never fills.
        threading.Thread(target=lambda: running_up.output.extend(proc.stdout), daemon=True).start()
        yield running_up
    finally:
        stop_tree(proc)


def kill_leader(up: Up, match) -> tuple[int, list[psutil.Process]]:
    """`kill -9` the child's leader only; returns its pid and the workers it leaves behind."""
    leader = up.child(match)
    assert leader is not None, "no such child"
    workers = leader.children(recursive=True)
    os.kill(leader.pid, signal.SIGKILL)
    return leader.pid, workers


def wait_restarted(up: Up, match, old_pid: int) -> psutil.Process:
    deadline = time.monotonic() + RESTART_TIMEOUT
    while time.monotonic() < deadline:
        new = up.child(match)
        if new is not None and new.pid != old_pid:
            return new
        time.sleep(0.1)
    raise AssertionError(f"not restarted; up printed:\n{up.printed()}")


def wait_until(condition: Callable[[], bool], what: str, timeout: float = RESTART_TIMEOUT):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} within {timeout:.0f}s")
        time.sleep(0.2)


def healthz_ok(url: str) -> Callable[[], bool]:
    def check() -> bool:
        try:
            return requests.get(f"{url}/healthz", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    return check


def worker_answers_ping(redis_url: str) -> Callable[[], bool]:
    def check() -> bool:
        client = Celery(broker=redis_url, set_as_current=False)
        client.conf.accept_content = ["json"]
        with client.connection_for_write() as conn:
            return bool(client.control.ping(timeout=1, connection=conn))

    return check


def article(title: str) -> dict:
    return {
        "source": "tests",
        "guid": f"supervisor-{uuid.uuid4().hex}",
        "language": "zh-CN",
        "versionCreated": "2017-12-04T00:00:00+08:00",
        "headlines": [{"value": title}],
        "bodies": [{"value": "<p>重启之后提交的文章。</p>"}],
    }


def wait_published(up: Up, article_id: str) -> None:
    def published() -> bool:
        resp = requests.get(f"{up.ingest}/v1/articles/{article_id}", headers=up.auth, timeout=10)
        return resp.json()["status"] == "published"

    wait_until(published, f"article {article_id} was not published", PUBLISH_TIMEOUT)


def post_and_wait_published(up: Up, title: str) -> None:
    resp = requests.post(
        f"{up.ingest}/v1/articles", json=article(title), headers=up.auth, timeout=30
    )
    assert resp.status_code == 202, resp.text
    wait_published(up, resp.json()["id"])


def store_without_sending(up: Up, title: str) -> str:
    """Store an article through the ingest path with no broker in reach, so its task is left
    in the outbox: only `up`'s relay can send it."""
    from ingest.app import create_app

    env = {"NEWSFLOW_DATA_DIR": str(up.var), "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"}
    app = create_app(keysecret.ensure(Settings.from_env(env)))
    resp = app.test_client().post("/v1/articles", json=article(title), headers=up.auth)
    assert resp.status_code == 202, resp.get_json()
    return resp.get_json()["id"]


def assert_gone(workers: list[psutil.Process]) -> None:
    wait_until(lambda: not any(running(w) for w in workers), "the dead leader's workers lived on")


def redis_answers(url: str) -> Callable[[], bool]:
    def check() -> bool:
        try:
            return redis_client(url).ping()
        except Exception:
            return False

    return check


@pytest.mark.e2e
def test_a_killed_worker_is_restarted_told_and_articles_are_published(up):
    old, pool = kill_leader(up, is_worker)
    assert pool, "the worker had no pool processes to leave behind"
    wait_restarted(up, is_worker, old)
    assert_gone(pool)
    told = "worker exited with -9; restarting in 0.5s (restart 1)"
    wait_until(lambda: f"newsflow: {told}\n" in up.printed(), "the restart was not told")
    assert told in (up.var / "logs" / "worker.log").read_text(errors="replace")
    wait_until(worker_answers_ping(up.redis_url), "the new worker did not answer a ping")
    post_and_wait_published(up, "工作进程重启之后")


@pytest.mark.e2e
def test_the_task_a_killed_worker_had_taken_runs_again_in_seconds(up):
    """acks_late leaves the task of a killed master unacknowledged in Redis, where the broker
    would give it back only after the visibility timeout (15 minutes); up puts it back on its
    queue before the new worker starts (launcher.restore_unacked)."""
    wait_until(worker_answers_ping(up.redis_url), "the worker did not answer a ping")
    pictures, body = {}, ""
    for n, name in enumerate(("photo-12mp-exif6.jpg", "hubble.jpg", "astronaut-cmyk.jpg")):
        data = (FIXTURES / "images" / name).read_bytes()
        stored = requests.post(
            f"{up.ingest}/v1/media?filename={name}", data=data, timeout=30,
            headers={"Content-Type": "application/octet-stream", **up.auth},
        )  # fmt: skip
        assert stored.status_code == 201, stored.text
        pictures[f"p{n}"] = {"type": "picture", "uri": stored.json()["uri"]}
        body += f'<figure data-association="p{n}"></figure><p>第{n}段。</p>'
    doc = {**article("处理中被杀的任务"), "associations": pictures, "bodies": [{"value": body}]}
    resp = requests.post(f"{up.ingest}/v1/articles", json=doc, headers=up.auth, timeout=30)
    assert resp.status_code == 202, resp.text
    article_id = resp.json()["id"]
    status = f"{up.ingest}/v1/articles/{article_id}"
    deadline = time.monotonic() + 30
    while requests.get(status, headers=up.auth, timeout=10).json()["status"] != "processing":
        assert time.monotonic() < deadline, "the pictures were never being processed"
        time.sleep(0.01)
    old, _ = kill_leader(up, is_worker)  # mid-task: the pictures take seconds
    wait_restarted(up, is_worker, old)
    # Well under the 15-minute visibility timeout: the task ran again after the restart.
    wait_until(
        lambda: requests.get(status, headers=up.auth, timeout=10).json()["status"] == "published",
        f"article {article_id} was not published after the restart",
        timeout=60,
    )
    log = up.var / "logs" / "worker.log"
    wait_until(
        lambda: "task(s) it had taken are queued again" in log.read_text(errors="replace"),
        "the restarted worker's log does not say the taken task was queued again",
    )


@pytest.mark.e2e
def test_a_killed_relay_is_restarted_and_sends_the_outbox(up):
    old, _ = kill_leader(up, is_relay)
    wait_restarted(up, is_relay, old)
    wait_published(up, store_without_sending(up, "中继重启之后"))


@pytest.mark.e2e
def test_a_killed_ingest_master_is_restarted_without_its_old_workers(up):
    old, workers = kill_leader(up, is_ingest)
    assert workers
    wait_restarted(up, is_ingest, old)
    assert_gone(workers)  # else an old worker would still hold the port
    wait_until(healthz_ok(up.ingest), "ingest /healthz did not answer 200")
    post_and_wait_published(up, "写入服务重启之后")


@pytest.mark.e2e
def test_a_killed_feed_master_is_restarted_without_its_old_workers(up):
    old, workers = kill_leader(up, is_feed)
    assert workers
    wait_restarted(up, is_feed, old)
    assert_gone(workers)
    wait_until(healthz_ok(up.feed), "feed /healthz did not answer 200")


@pytest.mark.e2e
def test_a_killed_redis_is_restarted_and_every_client_reconnects(up):
    # The relay and the ingest workers have each sent through a connection before the crash.
    wait_published(up, store_without_sending(up, "Redis 崩溃之前"))
    old, _ = kill_leader(up, is_redis)
    wait_restarted(up, is_redis, old)
    wait_until(redis_answers(up.redis_url), "the new Redis did not answer PING")
    wait_until(healthz_ok(up.ingest), "ingest /healthz did not see Redis again")
    wait_until(healthz_ok(up.feed), "feed /healthz did not see Redis again")
    post_and_wait_published(up, "Redis 重启之后，经写入服务")  # ingest's own send, and the worker
    wait_published(up, store_without_sending(up, "Redis 重启之后，经中继"))  # the relay


@pytest.mark.e2e
def test_a_redis_crash_keeps_what_it_acknowledged(up):
    """The private Redis writes an append-only file: a task queued before a crash is still
    queued after it."""
    r = redis_client(up.redis_url)
    assert r.config_get("appendonly") == {"appendonly": "yes"}
    assert r.config_get("appendfsync") == {"appendfsync": "everysec"}
    r.rpush("newsflow:test:queued", "a task sent just before the crash")
    old, _ = kill_leader(up, is_redis)
    wait_restarted(up, is_redis, old)
    wait_until(redis_answers(up.redis_url), "the new Redis did not answer PING")
    assert redis_client(up.redis_url).lrange("newsflow:test:queued", 0, -1) == [
        b"a task sent just before the crash"
    ]


# The policy's numbers, and a child that crashes at once, without the whole system.


def test_the_backoff_doubles_from_half_a_second_up_to_thirty():
    backoff = Backoff()
    assert [backoff.delay(n) for n in range(1, 10)] == [0.5, 1, 2, 4, 8, 16, 30, 30, 30]


def test_a_healthy_run_starts_the_count_again():
    backoff = Backoff()
    assert backoff.failures_after_crash(5, ran_for=3) == 6
    assert backoff.failures_after_crash(5, ran_for=backoff.healthy_after) == 1


def test_it_gives_up_after_eight_quick_crashes_in_a_row():
    backoff = Backoff()
    assert not backoff.gives_up(7)
    assert backoff.gives_up(8)
    assert sum(backoff.delay(n) for n in range(1, 8)) > 60  # tried for more than a minute


def crashing_at_once(tmp_path: Path) -> tuple[Callable[[], subprocess.Popen], list[float]]:
    """A real child that exits with 3 as soon as it starts; and the times it was started."""
    starts: list[float] = []

    def spawn() -> subprocess.Popen:
        starts.append(time.monotonic())
        return subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])

    return spawn, starts


def supervise_for(supervisor: Supervisor, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        supervisor.check()
        time.sleep(0.05)


def test_a_child_that_crashes_at_once_backs_off_instead_of_spinning(tmp_path):
    spawn, starts = crashing_at_once(tmp_path)
    told: list[str] = []
    supervisor = Supervisor(say=told.append)
    supervisor.add("feed", spawn, tmp_path / "feed.log")
    supervise_for(supervisor, 5)
    # Backoffs of 0.5, 1, 2 and 4 s: in 5 s three restarts at most (the fourth is due after
    # 7.5 s), where a loop without backoff would have started it dozens of times; and two at
    # least, even if a loaded machine takes a second to start Python.
    assert 3 <= len(starts) <= 4, told
    gaps = [later - earlier for earlier, later in itertools.pairwise(starts)]
    assert gaps[0] >= 0.5 and gaps[1] >= 1.0, gaps
    assert told[0] == "newsflow: feed exited with 3; restarting in 0.5s (restart 1)"
    assert "restarting in 1s (restart 2)" in (tmp_path / "feed.log").read_text()


def test_a_child_that_keeps_crashing_makes_it_give_up_and_say_why(tmp_path):
    spawn, starts = crashing_at_once(tmp_path)
    supervisor = Supervisor(say=lambda _: None, backoff=Backoff(first=0.05, give_up_after=3))
    supervisor.add("feed", spawn, tmp_path / "feed.log")
    with pytest.raises(GaveUp) as gave_up:
        supervise_for(supervisor, 20)
    assert len(starts) == 3
    assert str(gave_up.value).startswith("feed exited with 3, 3 times in a row")
    assert str(tmp_path / "feed.log") in str(gave_up.value)


def test_nothing_is_restarted_once_the_stop_has_begun(tmp_path):
    spawn, starts = crashing_at_once(tmp_path)
    supervisor = Supervisor(say=lambda _: None, backoff=Backoff(first=0.01))
    supervisor.add("feed", spawn, tmp_path / "feed.log")
    supervisor.stop(["feed"])
    supervise_for(supervisor, 0.5)
    assert len(starts) == 1


@pytest.fixture
def stop_signals() -> Iterator[StopSignals]:
    """`up`'s signal handlers, in this process for the length of one test."""
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    signals = StopSignals()
    signals.install()
    yield signals
    for sig, handler in saved.items():
        signal.signal(sig, handler)


def test_a_stop_signal_while_a_child_is_being_started_waits_for_the_start(stop_signals):
    started = []
    with pytest.raises(KeyboardInterrupt), stop_signals.held():
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.1)  # the handler has run by now, and raised nothing here
        started.append("recorded")
    assert started == ["recorded"]


def test_only_the_first_stop_signal_interrupts(stop_signals):
    """A second Ctrl-C must not cut the ordered stop short."""
    stopped = []
    try:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(1)  # interrupted at once
    except KeyboardInterrupt:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.1)  # the second one has been handled by now
        stopped.append("in order")
    assert stopped == ["in order"]
