#!/usr/bin/env python
"""Freshness on the running system: from POST /v1/articles to the article's presence in the
served /feeds/all.atom, at a steady 10 articles a second; then a saturation run.

    .venv/bin/python benchmarks/freshness.py                 # 60 s steady + saturation
    .venv/bin/python benchmarks/freshness.py --seconds 20    # quick run

The system is started as ``newsflow up`` starts it (``newsflow.launcher.Stack``: a private
Redis on a unix socket, SQLite, one Celery worker, the relay, ingest under gunicorn and
feed under granian) in a temp data dir on free 127.0.0.1 ports. ``--concurrency`` sets the
worker's processes (``newsflow up --concurrency``, 2 by default as there).

The store is first prefilled (``--prefill``, default 1000 published articles over 10
regions and 8 sources, inserted directly as benchmarks/rebuild.py does), so every feed a
new article lands in is already full, as in a live system.

Saturation phase (first, on the idle system): ``--saturation`` articles posted by
``--sat-clients`` clients as fast as they go; articles accepted, published and shown in the
feed per second. Then, once no task is queued:

Steady phase: text-only CJK articles (benchmarks/serve.py's generator: each one is in the
``all`` feed, a region feed and a source feed) are posted open-loop at ``--rate`` per second.
One poller sends a conditional GET (If-None-Match) for /feeds/all.atom every 10 ms and notes
when each article's entry first appears. Per article the store's own timestamps split the
time into: POST -> stored (``received_at``), stored -> published (``published_at``: images
step + page + feed membership), published -> in the served feed (waiting for and running the
feed rebuild, plus up to one poll interval).

Baselines measured in the same run: latencies are also printed as a multiple of the median
rebuild of a full 50-entry feed (the worker log's ``succeeded in`` times for
newsflow.feeds.rebuild): no article can be visible sooner than one rebuild after it is
published. Saturation rates are
printed as a multiple of the steady offered rate.

Only 127.0.0.1 is contacted; every loop is bounded in count and time.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import statistics
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import requests
from _common import table
from serve import ArticleMaker

SHANGHAI = timezone(timedelta(hours=8))
ENTRY_ID = re.compile(rb":article/([0-9A-Za-z_-]+)</id>")
TARGETS = {"p50": 0.150, "p99": 0.500}


WHAT_IF = """\
import gzip

import brotli

import render.compress


def siblings(data):
    return {{
        "br": brotli.compress(data, quality={q}, mode=brotli.MODE_TEXT),
        "gz": gzip.compress(data, compresslevel=6, mtime=0),
    }}


render.compress.siblings = siblings
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, max(0, round(q / 100 * len(values) + 0.5) - 1))]


@dataclass
class Posted:
    n: int
    sent_mono: float
    sent_wall: float
    status: int = 0
    id: str | None = None
    done_mono: float = 0.0


@dataclass
class Poller:
    """Conditional GETs of one feed every ``interval`` s; notes when each entry id first shows."""

    url: str
    interval: float = 0.010
    seen: dict[str, tuple[float, float]] = field(default_factory=dict)  # id -> (mono, wall)
    versions: list[float] = field(default_factory=list)  # when a new ETag was served
    polls: int = 0
    rtts: list[float] = field(default_factory=list)
    errors: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)

    def run(self, max_seconds: float) -> None:
        assert self.url.startswith("http://127.0.0.1:"), self.url
        session = requests.Session()
        etag = None
        deadline = time.monotonic() + max_seconds
        nxt = time.monotonic()
        while not self._stop.is_set() and time.monotonic() < deadline:
            headers = {"If-None-Match": etag} if etag else {}
            t = time.monotonic()
            try:
                resp = session.get(self.url, headers=headers, timeout=5)
            except requests.RequestException:
                self.errors += 1
                resp = None
            now, wall = time.monotonic(), time.time()
            self.polls += 1
            self.rtts.append(now - t)
            if resp is not None and resp.status_code == 200:
                etag = resp.headers.get("ETag")
                self.versions.append(now)
                for m in ENTRY_ID.finditer(resp.content):
                    self.seen.setdefault(m[1].decode(), (now, wall))
            nxt += self.interval
            delay = nxt - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            else:
                nxt = time.monotonic()

    def stop(self) -> None:
        self._stop.set()


class Poster:
    def __init__(self, ingest: str, run_id: str, key: str) -> None:
        assert ingest.startswith("http://127.0.0.1:"), ingest
        self.url = f"{ingest}/v1/articles"
        self.auth = {"Authorization": f"Bearer {key}"}
        self.maker = ArticleMaker(seed=int(run_id[:6], 16))
        self.run_id = run_id
        self.local = threading.local()
        self.docs: dict[int, dict] = {}

    def prepare(self, start: int, count: int) -> None:
        """Documents made before the clock starts (parsing is not what is measured)."""
        for n in range(start, start + count):
            doc = self.maker.doc(n)
            doc["guid"] = f"freshness-{self.run_id}-{n}"
            doc["source"] = "freshness-bench"
            self.docs[n] = doc

    def post(self, n: int) -> Posted:
        session = getattr(self.local, "session", None)
        if session is None:
            session = self.local.session = requests.Session()
        doc = self.docs.pop(n)
        now = datetime.now(SHANGHAI).isoformat()
        doc["firstCreated"] = doc["versionCreated"] = now
        p = Posted(n, time.monotonic(), time.time())
        try:
            resp = session.post(self.url, json=doc, headers=self.auth, timeout=30)
            p.status = resp.status_code
            if resp.status_code in (200, 202):
                p.id = resp.json()["id"]
        except requests.RequestException:
            p.status = -1
        p.done_mono = time.monotonic()
        return p


def rebuild_times(log: Path, since: float) -> list[tuple[float, int]]:
    """(seconds, entries) of each newsflow.feeds.rebuild that finished after ``since``."""
    pat = re.compile(
        r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}): INFO/[\w-]+\] "
        r"Task newsflow\.feeds\.rebuild\[[^\]]+\] succeeded in ([\d.]+)s: (\d+)"
    )
    out = []
    for line in log.read_text(errors="replace").splitlines():
        m = pat.match(line)
        if m and datetime.strptime(m[1], "%Y-%m-%d %H:%M:%S,%f").timestamp() >= since:
            out.append((float(m[2]), int(m[3])))
    return out


def task_summary(log: Path, since: float) -> dict[str, tuple[int, float]]:
    """Per task name: (count, median seconds) from the worker log."""
    pat = re.compile(
        r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}): INFO/[\w-]+\] "
        r"Task ([\w.]+)\[[^\]]+\] succeeded in ([\d.]+)s"
    )
    acc: dict[str, list[float]] = {}
    for line in log.read_text(errors="replace").splitlines():
        m = pat.match(line)
        if m and datetime.strptime(m[1], "%Y-%m-%d %H:%M:%S,%f").timestamp() >= since:
            acc.setdefault(m[2], []).append(float(m[3]))
    return {k: (len(v), statistics.median(v)) for k, v in acc.items()}


def store_times(engine, ids: list[str]) -> dict[str, tuple[float, float | None]]:
    """id -> (received_at, published_at) as epoch seconds."""
    from sqlalchemy import select

    from shared.models import ArticleRow

    out = {}
    with engine.connect() as conn:
        for i in range(0, len(ids), 500):
            rows = conn.execute(
                select(ArticleRow.id, ArticleRow.received_at, ArticleRow.published_at).where(
                    ArticleRow.id.in_(ids[i : i + 500])
                )
            )
            for aid, rec, pub in rows:
                out[aid] = (rec.timestamp(), pub.timestamp() if pub else None)
    return out


def wait_until(pred, timeout: float, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(step)
    return pred()


def published_count(engine, source: str) -> int:
    from sqlalchemy import text

    with engine.connect() as conn:
        return conn.execute(
            text("SELECT count(*) FROM articles WHERE source = :s AND status = 'published'"),
            {"s": source},
        ).scalar()


def wait_idle(redis_url: str, timeout: float) -> bool:
    """No task queued for two seconds in a row (the worker takes one at a time)."""
    from shared.redisurl import client
    from shared.tasknames import ALL_QUEUES

    r = client(redis_url)
    quiet_since = None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sum(r.llen(q) for q in ALL_QUEUES) == 0:
            quiet_since = quiet_since or time.monotonic()
            if time.monotonic() - quiet_since >= 2:
                return True
        else:
            quiet_since = None
        time.sleep(0.1)
    return False


def steady(args, stack, poster: Poster, engine, log: Path, start: int) -> None:
    total = int(args.seconds * args.rate)
    poster.prepare(start, total)
    poller = Poller(f"{stack.feed_url}/feeds/all.atom")
    pt = threading.Thread(target=poller.run, args=(args.seconds + args.drain + 60,), daemon=True)
    pt.start()
    time.sleep(0.5)
    wall0 = time.time()
    posted: list = []
    t0 = time.monotonic()
    with ThreadPoolExecutor(max_workers=8) as pool:
        for n in range(total):
            delay = t0 + n / args.rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            posted.append(pool.submit(poster.post, start + n))
    posts: list[Posted] = [f.result() for f in posted]
    offered = total / (time.monotonic() - t0)
    ok = [p for p in posts if p.id]
    # Drain: until every article has been seen, for at most --drain seconds.
    wait_until(lambda: all(p.id in poller.seen for p in ok), timeout=args.drain)
    time.sleep(0.5)
    poller.stop()
    pt.join(timeout=10)

    store = store_times(engine, [p.id for p in ok])
    lat, s_ingest, s_publish, s_feed = [], [], [], []
    missed = 0
    for p in ok:
        seen = poller.seen.get(p.id)
        rec, pub = store.get(p.id, (None, None))
        if rec is not None:
            s_ingest.append(rec - p.sent_wall)
        if rec is not None and pub is not None:
            s_publish.append(pub - rec)
        if seen is None:
            missed += 1
            continue
        lat.append(seen[0] - p.sent_mono)
        if pub is not None:
            s_feed.append(seen[1] - pub)
    rebuilds = rebuild_times(log, wall0)
    full = [t for t, entries in rebuilds if entries >= 50]  # the all feed once it is full
    base = statistics.median(full) if full else float("nan")
    post_rtt = statistics.median(p.done_mono - p.sent_mono for p in posts)

    print(
        f"\nsteady: {len(posts)} posted open-loop at {offered:.1f}/s for {args.seconds:g} s "
        f"({len(posts) - len(ok)} refused); {len(lat)} seen in /feeds/all.atom, {missed} not "
        f"seen by {args.drain:g} s after the last POST; {poller.polls} polls, "
        f"median poll {statistics.median(poller.rtts) * 1e3:.1f} ms, {len(poller.versions)} "
        f"feed versions served"
    )
    print(
        f"baseline: median rebuild of a full (50-entry) feed = {base * 1e3:.0f} ms "
        f"(worker log: {len(full)} of the {len(rebuilds)} rebuilds in the phase; all rebuilds' "
        f"median {statistics.median(t for t, _ in rebuilds) * 1e3:.0f} ms); "
        f"median POST round trip = {post_rtt * 1e3:.1f} ms"
    )
    # An article not seen by the end counts as later than any seen (percentiles over all).
    everyone = lat + [float("inf")] * missed
    rows = []
    for name, q in (("p50", 50), ("p95", 95), ("p99", 99), ("max", 100)):
        v = pct(everyone, q) if q < 100 else max(everyone, default=float("nan"))
        target = TARGETS.get(name)
        verdict = "" if target is None else ("met" if v <= target else "MISSED")
        shown = f"{v * 1e3:,.0f}" if v != float("inf") else "not seen by the end"
        rows.append((
            name, shown, f"{v / base:.2f}" if v != float("inf") else "",
            f"≤ {target * 1e3:.0f}" if target else "", verdict,
        ))  # fmt: skip
    print(table(rows, ("POST → in feed", "ms", "× rebuild", "target ms", "")))
    srows = []
    for name, vals in (
        ("POST → stored (ingest)", s_ingest),
        ("stored → published (queue, images, page)", s_publish),
        ("published → in served feed (rebuild wait + run, poll)", s_feed),
    ):
        srows.append((
            name, len(vals), f"{pct(vals, 50) * 1e3:,.0f}", f"{pct(vals, 99) * 1e3:,.0f}",
            f"{pct(vals, 50) / base:.2f}",
        ))  # fmt: skip
    print("\nwhere the time goes (per article, from the store's timestamps; articles that got")
    print("that far by the end of the run)")
    print(table(srows, ("stage", "articles", "p50 ms", "p99 ms", "p50 × rebuild")))
    tasks = task_summary(log, wall0)
    # Every article passes the images step (an article without pictures is published in it).
    articles = tasks.get("newsflow.images.process_article", (0, 0))[0] or 1
    print("\nworker tasks from the start of the steady phase (worker log)")
    trows = [
        (name, count, f"{med * 1e3:.0f}", f"{count / articles:.2f}")
        for name, (count, med) in sorted(tasks.items())
    ]
    print(table(trows, ("task", "runs", "median ms", "per article")))


def saturation(args, stack, poster: Poster, engine, start: int) -> None:
    n = args.saturation
    poster.prepare(start, n)
    source = "freshness-bench"
    before = published_count(engine, source)
    t0 = time.monotonic()
    with ThreadPoolExecutor(max_workers=args.sat_clients) as pool:
        posts = list(pool.map(poster.post, range(start, start + n)))
    t_accepted = time.monotonic() - t0
    ok = [p for p in posts if p.id]
    done = wait_until(
        lambda: published_count(engine, source) - before >= len(ok), timeout=300, step=0.1
    )
    t_published = time.monotonic() - t0
    last = ok[-1].id if ok else None
    poller = Poller(f"{stack.feed_url}/feeds/all.atom")
    pt = threading.Thread(target=poller.run, args=(120,), daemon=True)
    pt.start()
    wait_until(lambda: last in poller.seen, timeout=120)
    poller.stop()
    pt.join(timeout=10)
    t_feed = (poller.seen[last][0] - t0) if last in poller.seen else float("nan")
    print(
        f"\nsaturation: {n} articles posted by {args.sat_clients} clients as fast as they go "
        f"({n - len(ok)} refused){'' if done else '; NOT all published within 300 s'}"
    )
    rows = [
        ("accepted by ingest (202)", f"{len(ok) / t_accepted:.1f}", f"{t_accepted:.1f}"),
        ("published (status)", f"{len(ok) / t_published:.1f}", f"{t_published:.1f}"),
        ("last one in /feeds/all.atom", f"{len(ok) / t_feed:.1f}", f"{t_feed:.1f}"),
    ]
    rows = [(a, b, f"{float(b) / args.rate:.2f}", c) for a, b, c in rows]
    print(table(rows, ("phase", "articles/s", f"× steady rate ({args.rate:g}/s)", "seconds")))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=60, help="steady phase length (default 60)")
    ap.add_argument("--rate", type=float, default=10, help="articles per second (default 10)")
    ap.add_argument("--saturation", type=int, default=100, help="articles; 0 skips it")
    ap.add_argument(
        "--drain", type=float, default=60, help="seconds to wait for stragglers (default 60)"
    )
    ap.add_argument("--sat-clients", type=int, default=4)
    ap.add_argument(
        "--concurrency", type=int, default=2, help="worker processes (default 2, as newsflow up)"
    )
    ap.add_argument(
        "--prefill", type=int, default=1000, help="published articles already in the store"
    )
    ap.add_argument(
        "--what-if-brotli",
        type=int,
        default=0,
        metavar="Q",
        help="experiment: run the worker with brotli quality Q (and gzip -6) for the siblings",
    )
    ap.add_argument("--keep", action="store_true", help="keep the data dir (logs, store)")
    args = ap.parse_args()
    assert args.seconds <= 600 and args.saturation <= 2000 and args.drain <= 600, "bounded runs"

    from newsflow.launcher import Stack
    from shared.db import make_engine
    from shared.settings import Settings

    tmp = Path(tempfile.mkdtemp(prefix="newsflow-fresh-"))
    settings = Settings.from_env(
        {
            "NEWSFLOW_DATA_DIR": str(tmp / "var"),
            "INGEST_PORT": str(free_port()),
            "FEED_PORT": str(free_port()),
        }
    )
    if args.prefill:
        # A store with history, so every feed is full (50 entries) as in a live system:
        # rows inserted directly, as benchmarks/rebuild.py does, before anything starts.
        from rebuild import POOL, Pool, load

        from shared import migrate

        settings.data_dir.mkdir(parents=True)
        migrate.upgrade(settings.database_url)
        secs = load(settings.database_url, args.prefill, Pool(min(POOL, args.prefill)))
        print(f"prefilled the store with {args.prefill} published articles in {secs:.1f}s")
    if args.what_if_brotli:
        # An experiment, not a setting: every process of the stack imports a sitecustomize
        # that swaps render.compress.siblings for cheaper levels. No project file changes.
        patch = tmp / "what-if"
        patch.mkdir()
        (patch / "sitecustomize.py").write_text(WHAT_IF.format(q=args.what_if_brotli))
        os.environ["PYTHONPATH"] = os.pathsep.join(
            [str(patch), *filter(None, [os.environ.get("PYTHONPATH")])]
        )
        print(f"WHAT-IF: the worker compresses siblings with brotli q{args.what_if_brotli} "
              "and gzip -6 (not the shipped q11 / -9)")  # fmt: skip
    stack = Stack(settings, concurrency=args.concurrency)
    print(f"starting the stack in {settings.data_dir} (worker concurrency {args.concurrency})")
    t = time.monotonic()
    try:
        stack.start()
        print(
            f"up in {time.monotonic() - t:.1f}s: ingest {stack.ingest_url}, feed {stack.feed_url}"
        )
        engine = make_engine(settings.database_url)
        from newsflow import localkeys

        key = localkeys.issue(
            stack.settings, "bench", ["ingest:write"], ["freshness-bench"], localkeys.UNLIMITED
        )
        poster = Poster(stack.ingest_url, uuid.uuid4().hex, key)
        log = settings.data_dir / "logs" / "worker.log"
        # warm-up: one article through the whole path (imports, first connections)
        poster.prepare(10**6, 1)
        warm = poster.post(10**6)
        wait_until(lambda: published_count(engine, "freshness-bench") >= 1, timeout=60)
        time.sleep(2)
        if warm.id is None:
            raise RuntimeError(f"warm-up POST answered {warm.status}")
        # Saturation first, on an idle system; then, once idle again, the steady phase.
        if args.saturation:
            saturation(args, stack, poster, engine, 0)
            wait_idle(settings.redis_url, timeout=180)
        steady(args, stack, poster, engine, log, start=10**5)
        print(f"\nmachine: {sys.platform}, {len(os.sched_getaffinity(0))} cores; "
              f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC")  # fmt: skip
        engine.dispose()
    finally:
        stack.stop()
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
