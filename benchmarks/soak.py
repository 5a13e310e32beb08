#!/usr/bin/env python
"""Soak: the embedded default (as ``newsflow up`` starts it) at a fixed rate, with pictures,
for N minutes while feeds are polled; then a reconciliation.

    .venv/bin/python benchmarks/soak.py                      # 10 minutes at 4 articles/s
    .venv/bin/python benchmarks/soak.py --minutes 2 --rate 2 # a quick run

What it does: starts the stack (private Redis on a unix socket, SQLite, one Celery worker
with ``--concurrency`` processes, the relay, ingest under gunicorn, feed under granian) in a
temp data dir on free 127.0.0.1 ports, and a local image host on 127.0.0.1 (the worker may
fetch from it: FETCH_ALLOW_HOSTS) that serves ``--images`` distinct JPEGs made from the demo
photos. Articles in the seed portal format (benchmarks/serve.py's generator) are posted
open-loop at ``--rate`` per second; ``--pictures`` of every 10 carry one or two pictures from
the image host. Meanwhile pollers send conditional GETs for ``/feeds/all.atom``, ``.rss``,
``.json`` and a region feed, and a sampler records every few seconds the worker's RSS (the
master and each pool process), the queue depths and the outbox backlog.

Reported, each against a baseline measured in the same run:

- throughput: published per second as a multiple of the offered rate;
- publish latency (POST -> ``published`` in the store, from its own timestamps) p50/p95/p99,
  as a multiple of the median POST round trip (the cheapest step of the path);
- worker RSS over time: each minute's median as a multiple of the first minute's (no growth
  means about 1.0 at the end);
- queue depth and outbox backlog over time (max and last);
- pollers: requests, 200s, 304s and errors (any other status is an error);
- reconciliation: posted (202) = published, and each article exactly once across
  ``/feeds/all.atom`` and its RFC 5005 archive pages (0 duplicates, 0 missing).

Only 127.0.0.1 is contacted; every loop is bounded in count and time.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import random
import re
import shutil
import statistics
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import psutil
import requests
from _common import table
from freshness import free_port, pct, wait_until
from serve import ArticleMaker

ROOT = Path(__file__).resolve().parents[1]
PHOTOS = ROOT / "newsflow" / "demo" / "seed" / "images"
SHANGHAI = timezone(timedelta(hours=8))
ENTRY_ID = re.compile(rb":article/([0-9A-Za-z_-]+)</id>")
SOURCE = "soak-bench"


# ----------------------------------------------------------------------------------------
# The outside world: an image host on 127.0.0.1
# ----------------------------------------------------------------------------------------


def make_images(count: int, seed: int) -> list[bytes]:
    """``count`` distinct JPEGs (so the worker decodes each once): the demo photos, each
    shifted in tint and cropped differently."""
    from PIL import Image, ImageEnhance

    photos = [Image.open(p).convert("RGB") for p in sorted(PHOTOS.glob("*.jpg"))]
    rng = random.Random(seed)
    out = []
    for i in range(count):
        img = photos[i % len(photos)]
        w, h = img.size
        dx, dy = rng.randint(0, w // 10), rng.randint(0, h // 10)
        crop = img.crop((dx, dy, w - rng.randint(0, w // 10), h - rng.randint(0, h // 10)))
        crop = ImageEnhance.Color(crop).enhance(0.6 + rng.random() * 0.8)
        buf = io.BytesIO()
        crop.save(buf, "JPEG", quality=88)
        out.append(buf.getvalue())
    return out


class ImageHost:
    def __init__(self, images: list[bytes]) -> None:
        self.images = images
        self.requests = 0
        host = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                host.requests += 1
                m = re.fullmatch(r"/img/(\d+)\.jpg", self.path)
                if not m or int(m[1]) >= len(host.images):
                    self.send_error(404)
                    return
                data = host.images[int(m[1])]
                self.send_response(200)
                self.send_header("Content-Type", "image/jpeg")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()


# ----------------------------------------------------------------------------------------
# Load, pollers, sampler
# ----------------------------------------------------------------------------------------


@dataclass
class Post:
    n: int
    sent_wall: float
    rtt: float = 0.0
    status: int = 0
    id: str | None = None


class Poster:
    def __init__(self, ingest: str, host: ImageHost, args, run_id: str, key: str) -> None:
        assert ingest.startswith("http://127.0.0.1:"), ingest
        self.url = f"{ingest}/v1/articles"
        self.auth = {"Authorization": f"Bearer {key}"}
        self.maker = ArticleMaker(seed=int(run_id[:6], 16))
        self.host, self.args, self.run_id = host, args, run_id
        self.local = threading.local()
        self.rng = random.Random(run_id)

    def doc(self, n: int) -> dict:
        doc = self.maker.doc(n)
        doc["guid"] = f"soak-{self.run_id}-{n}"
        doc["source"] = SOURCE
        now = datetime.now(SHANGHAI).isoformat()
        doc["firstCreated"] = doc["versionCreated"] = now
        if n % 10 < self.args.pictures:
            pictures = {}
            for k in range(1 + n % 2):
                image = self.rng.randrange(self.args.images)
                pictures[f"p{k}"] = {
                    "type": "picture",
                    "uri": f"{self.host.url}/img/{image}.jpg",
                    "description": f"图{k + 1}",
                }
            doc["associations"] = pictures
            figures = "".join(f'<figure data-association="{key}"></figure>' for key in pictures)
            doc["bodies"][0]["value"] = figures + doc["bodies"][0]["value"]
        return doc

    def post(self, n: int, doc: dict) -> Post:
        session = getattr(self.local, "session", None)
        if session is None:
            session = self.local.session = requests.Session()
        p = Post(n, time.time())
        t = time.monotonic()
        try:
            resp = session.post(self.url, json=doc, headers=self.auth, timeout=30)
            p.status = resp.status_code
            if resp.status_code in (200, 202):
                p.id = resp.json()["id"]
        except requests.RequestException:
            p.status = -1
        p.rtt = time.monotonic() - t
        return p


@dataclass
class Poller:
    url: str
    interval: float = 0.1
    counts: dict[str, int] = field(
        default_factory=lambda: {"200": 0, "304": 0, "404 before the feed existed": 0, "error": 0}
    )
    _stop: threading.Event = field(default_factory=threading.Event)

    def run(self, max_seconds: float) -> None:
        assert self.url.startswith("http://127.0.0.1:"), self.url
        session, etag = requests.Session(), None
        deadline = time.monotonic() + max_seconds
        while not self._stop.is_set() and time.monotonic() < deadline:
            try:
                resp = session.get(
                    self.url, headers={"If-None-Match": etag} if etag else {}, timeout=10
                )
                code = str(resp.status_code)
                if code == "200":
                    etag = resp.headers.get("ETag")
            except requests.RequestException:
                code = "error"
            if code == "404" and not etag:
                code = "404 before the feed existed"
            self.counts[code if code in self.counts else "error"] += 1
            self._stop.wait(self.interval)

    def stop(self) -> None:
        self._stop.set()


@dataclass
class Sample:
    t: float
    rss_master: float  # MB
    rss_pool: list[float]  # MB, each pool process
    queued: int
    outbox: int


class Sampler:
    def __init__(self, worker_pid: int, redis_url: str, engine, every: float) -> None:
        from shared.redisurl import client

        self.proc = psutil.Process(worker_pid)
        self.redis = client(redis_url)
        self.engine, self.every = engine, every
        self.samples: list[Sample] = []
        self._stop = threading.Event()

    def sample(self, t0: float) -> Sample:
        from sqlalchemy import text

        from shared.tasknames import ALL_QUEUES

        pool = []
        for child in self.proc.children():
            with contextlib.suppress(psutil.Error):  # a pool process being replaced
                pool.append(child.memory_info().rss / 2**20)
        with self.engine.connect() as conn:
            outbox = conn.execute(text("SELECT count(*) FROM outbox WHERE sent_at IS NULL"))
            outbox = outbox.scalar()
        return Sample(
            t=time.monotonic() - t0,
            rss_master=self.proc.memory_info().rss / 2**20,
            rss_pool=pool,
            queued=sum(self.redis.llen(q) for q in ALL_QUEUES),
            outbox=outbox,
        )

    def run(self, t0: float, max_seconds: float) -> None:
        deadline = time.monotonic() + max_seconds
        while not self._stop.is_set() and time.monotonic() < deadline:
            try:
                self.samples.append(self.sample(t0))
            except (psutil.Error, OSError) as exc:
                print(f"sampler: {type(exc).__name__}: {exc}", file=sys.stderr)
            self._stop.wait(self.every)

    def stop(self) -> None:
        self._stop.set()


# ----------------------------------------------------------------------------------------
# Reconciliation
# ----------------------------------------------------------------------------------------


def published(engine, ids: list[str]) -> dict[str, tuple[float, float | None, str]]:
    """id -> (received_at, published_at, status), epoch seconds."""
    from sqlalchemy import select

    from shared.models import ArticleRow

    out = {}
    with engine.connect() as conn:
        for i in range(0, len(ids), 500):
            rows = conn.execute(
                select(
                    ArticleRow.id, ArticleRow.received_at, ArticleRow.published_at,
                    ArticleRow.status,
                ).where(ArticleRow.id.in_(ids[i : i + 500]))
            )  # fmt: skip
            for aid, rec, pub, status in rows:
                out[aid] = (rec.timestamp(), pub.timestamp() if pub else None, status)
    return out


def feed_documents(feed: str) -> list[list[str]]:
    """The entry ids of /feeds/all.atom, then of each of its RFC 5005 archive pages."""
    docs = []
    resp = requests.get(f"{feed}/feeds/all.atom", timeout=30)
    resp.raise_for_status()
    docs.append([m.decode() for m in ENTRY_ID.findall(resp.content)])
    for n in range(1, 100_000):
        page = requests.get(f"{feed}/feeds/all/archive/{n}.atom", timeout=30)
        if page.status_code == 404:
            break
        page.raise_for_status()
        docs.append([m.decode() for m in ENTRY_ID.findall(page.content)])
    return docs


def duplicates(docs: list[list[str]]) -> list[str]:
    """Ids twice in one document, or in two archive pages. The subscription document holds
    the newest entries, which the newest archive page may hold too (RFC 5005 section 4:
    archives are the complete history; the feed document overlaps them)."""
    dupes = [i for doc in docs for i in set(doc) if doc.count(i) > 1]
    archived: dict[str, int] = {}
    for doc in docs[1:]:
        for i in set(doc):
            archived[i] = archived.get(i, 0) + 1
    return dupes + [i for i, c in archived.items() if c > 1]


# ----------------------------------------------------------------------------------------


def run(args, stack, host: ImageHost, engine) -> int:
    from newsflow import localkeys

    key = localkeys.issue(stack.settings, "bench", ["ingest:write"], [SOURCE], localkeys.UNLIMITED)
    poster = Poster(stack.ingest_url, host, args, uuid.uuid4().hex, key)
    total = int(args.minutes * 60 * args.rate)
    docs = {n: poster.doc(n) for n in range(total)}  # made before the clock starts
    seconds = args.minutes * 60
    bound = seconds + args.drain + 120
    pollers = [Poller(f"{stack.feed_url}/feeds/all.{fmt}") for fmt in ("atom", "rss", "json")] + [
        Poller(f"{stack.feed_url}/feeds/region/%E5%86%85%E8%92%99.atom")
    ]  # 内蒙
    worker_pid = stack.procs["worker"].pid
    t0 = time.monotonic()
    sampler = Sampler(worker_pid, stack.settings.redis_url, engine, args.sample_every)
    threads = [threading.Thread(target=p.run, args=(bound,), daemon=True) for p in pollers]
    threads.append(threading.Thread(target=sampler.run, args=(t0, bound), daemon=True))
    for th in threads:
        th.start()

    futures = []
    with ThreadPoolExecutor(max_workers=8) as pool:
        for n in range(total):
            delay = t0 + n / args.rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            futures.append(pool.submit(poster.post, n, docs.pop(n)))
    posts = [f.result() for f in futures]
    t_last = time.monotonic()
    offered = total / (t_last - t0)
    ok = [p for p in posts if p.id and p.status == 202]
    ids = [p.id for p in ok]

    def settled() -> bool:
        states = published(engine, ids)
        return all(s[2] in ("published", "failed") for s in states.values())

    drained = wait_until(settled, timeout=args.drain, step=0.5)
    t_done = time.monotonic()
    # Let the last rebuilds land before reading the feeds.
    wait_until(lambda: sampler.sample(t0).queued == 0, timeout=60, step=0.2)
    time.sleep(2)
    for p in pollers:
        p.stop()
    sampler.stop()
    for th in threads:
        th.join(timeout=15)

    states = published(engine, ids)
    pub = {i: s for i, s in states.items() if s[2] == "published" and s[1] is not None}
    failed = {i: s for i, s in states.items() if s[2] == "failed"}
    latencies = [s[1] - s[0] for s in pub.values()]
    rtt = statistics.median(p.rtt for p in posts)
    # Throughput over the posting window plus the drain until the last was published.
    last_pub = max((s[1] for s in pub.values()), default=time.time())
    first_sent = min(p.sent_wall for p in posts)
    throughput = len(pub) / max(1e-9, last_pub - first_sent)

    print(
        f"\nsoak: {len(posts)} articles posted open-loop at {offered:.2f}/s for "
        f"{args.minutes:g} min ({args.pictures}/10 with pictures from {args.images} distinct "
        f"images; image host served {host.requests} requests); "
        f"{len(posts) - len(ok)} not accepted; "
        f"{'all settled' if drained else 'NOT all settled'} "
        f"{t_done - t_last:.1f} s after the last POST"
    )
    print(f"baseline: median POST round trip {rtt * 1e3:.1f} ms; offered rate {offered:.2f}/s")
    rows = [("throughput (published/s)", f"{throughput:.2f}", f"{throughput / offered:.2f}×")]
    for name, q in (("p50", 50), ("p95", 95), ("p99", 99)):
        v = pct(latencies, q)
        rows.append((f"POST → published {name}", f"{v * 1e3:,.0f} ms", f"{v / rtt:.1f}× POST rtt"))
    rows.append(("max", f"{max(latencies, default=0) * 1e3:,.0f} ms", ""))
    print(table(rows, ("figure", "value", "ratio (to offered rate / POST rtt)")))

    # Worker RSS per minute (median of the samples in it), against the first minute.
    by_minute: dict[int, list[Sample]] = {}
    for s in sampler.samples:
        by_minute.setdefault(int(s.t // 60), []).append(s)
    first = by_minute.get(0) or sampler.samples[:1]
    base_master = statistics.median(s.rss_master for s in first)
    base_pool = statistics.median(max(s.rss_pool, default=0) for s in first)
    mrows = []
    for minute, samples in sorted(by_minute.items()):
        master = statistics.median(s.rss_master for s in samples)
        pool = statistics.median(max(s.rss_pool, default=0) for s in samples)
        mrows.append((
            minute, f"{master:.0f}", f"{master / base_master:.2f}", f"{pool:.0f}",
            f"{pool / base_pool:.2f}" if base_pool else "",
            max(s.queued for s in samples), max(s.outbox for s in samples),
        ))  # fmt: skip
    print("\nworker RSS (MB, median of the minute's samples), queue depth and outbox (max)")
    print(table(mrows, ("minute", "master", "× min 0", "largest pool proc", "× min 0",
                        "queued", "outbox")))  # fmt: skip

    prow = [(p.url.split("/feeds/", 1)[1], *p.counts.values()) for p in pollers]
    print("\nfeed pollers (conditional GET every 100 ms)")
    print(table(prow, ("feed", "200", "304", "404 before it existed", "errors")))

    docs = feed_documents(stack.feed_url)
    pages = len(docs) - 1
    counts = {i for doc in docs for i in doc}
    dupes = duplicates(docs)
    missing = [i for i in pub if i not in counts]
    print(
        f"\nreconciliation: posted (202) {len(ok)}, published {len(pub)}, failed {len(failed)}, "
        f"other {len(ok) - len(pub) - len(failed)}; in /feeds/all.atom + {pages} archive pages: "
        f"{len(counts)} distinct, {len(dupes)} duplicated (in one document or two archive pages), "
        f"{len(missing)} published but missing"
    )
    for aid, (_, _, status) in list(failed.items())[:5]:
        print(f"  failed: {aid} {status}")
    ok_run = len(pub) == len(ok) and not dupes and not missing
    print("RESULT:", "posted = published, 0 duplicates" if ok_run else "MISMATCH (see above)")
    return 0 if ok_run else 1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--rate", type=float, default=4, help="articles per second (default 4)")
    ap.add_argument("--pictures", type=int, default=3, help="of every 10 articles (default 3)")
    ap.add_argument("--images", type=int, default=60, help="distinct images (default 60)")
    ap.add_argument("--drain", type=float, default=120, help="seconds to settle (default 120)")
    ap.add_argument("--sample-every", type=float, default=5.0)
    ap.add_argument("--concurrency", type=int, default=2, help="worker processes (as up)")
    ap.add_argument("--keep", action="store_true", help="keep the data dir (logs, store)")
    args = ap.parse_args()
    assert args.minutes <= 120 and args.rate <= 50 and args.drain <= 600, "bounded runs"
    assert 0 <= args.pictures <= 10 and 1 <= args.images <= 1000

    from newsflow.launcher import Stack
    from shared.db import make_engine
    from shared.settings import Settings

    tmp = Path(tempfile.mkdtemp(prefix="newsflow-soak-"))
    host = ImageHost(make_images(args.images, seed=7))
    settings = Settings.from_env(
        {
            "NEWSFLOW_DATA_DIR": str(tmp / "var"),
            "INGEST_PORT": str(free_port()),
            "FEED_PORT": str(free_port()),
            "FETCH_ALLOW_HOSTS": "127.0.0.1",
        }
    )
    stack = Stack(settings, concurrency=args.concurrency)
    print(f"starting the stack in {settings.data_dir} (worker concurrency {args.concurrency})")
    try:
        stack.start()
        engine = make_engine(settings.database_url)
        code = run(args, stack, host, engine)
        print(f"\nmachine: {sys.platform}, {psutil.cpu_count()} cores; "
              f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC")  # fmt: skip
        engine.dispose()
    finally:
        stack.stop()
        host.stop()
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
