#!/usr/bin/env python
"""Partner syndication: the pull API's page cost against the log's size, and how soon a
publication reaches partners' webhook endpoints.

    .venv/bin/python benchmarks/partners.py pull                       # SQLite, 10^3 and 10^6
    .venv/bin/python benchmarks/partners.py pull --postgres            # and PostgreSQL
    .venv/bin/python benchmarks/partners.py pull --sizes 1000,100000   # quicker
    .venv/bin/python benchmarks/partners.py webhooks                   # 1, then 20 endpoints
    .venv/bin/python benchmarks/partners.py webhooks --postgres        # on PostgreSQL

**pull**:
For each backend and size: a fresh database migrated with ``shared.migrate.upgrade``, then N
change-log rows bulk-inserted (each a realistic CJK article as published, documents from
benchmarks/serve.py's ArticleMaker, 500 distinct ones reused; with their ``change_places``
rows). Then the feed service's own WSGI app (``feed.app.create_app``, in process: no network,
so the figure is the service's work) answers ``GET /v1/partner/items?limit=100`` for a
``content:read`` key, from three positions: the first page (no cursor), the middle and the
head (the newest 100). Each figure is the median of ``--runs`` requests, and the ratio is
against the 10^3 store on the same backend and position: the target is <= 1.2 (a page's cost
must not grow with the log; the query is one primary-key range scan).

Every request is authenticated (a key lookup) and audited (one row written), as in service.

**webhooks**: the whole system as ``newsflow up`` starts it (``newsflow.launcher.Stack``:
private Redis, worker with 2 processes, relay, scheduler, ingest, feed), and N partner
endpoints, each a real HTTP server on 127.0.0.1 answering 200. Articles are posted one at a
time (``--articles``, ``--rate`` a second); for every delivery received, the time from the
change's commit (the change log's ``at``, found by the payload's ``sequence``) to its arrival,
and from the POST to its arrival. Baseline, in the same run: one endpoint; then 20. Targets
(issue 10): publish -> received p50 <= 200 ms, p99 <= 1 s with 20 endpoints on 2 cores.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import sqlalchemy as sa
from _common import table
from rebuild import PG_URL, PgRawJSON, Pool, postgres_database

POOL = 500
PAGE = 100
T0 = datetime(2024, 1, 1, tzinfo=UTC)


def load_changes(url: str, n: int, pool: Pool, batch: int = 5000) -> float:
    """Bulk-insert n change rows (and one change_places row each); returns seconds."""
    from shared.db import normalize_url
    from shared.models import UTCDateTime

    raw_json = sa.Text if url.startswith("sqlite") else PgRawJSON
    md = sa.MetaData()
    changes = sa.Table(
        "changes", md,
        sa.Column("seq", sa.BigInteger), sa.Column("article_id", sa.String),
        sa.Column("version", sa.Integer), sa.Column("op", sa.String),
        sa.Column("audience", sa.String), sa.Column("source", sa.String),
        sa.Column("at", UTCDateTime), sa.Column("doc", raw_json), sa.Column("media", raw_json),
    )  # fmt: skip
    places = sa.Table(
        "change_places", md, sa.Column("name", sa.String), sa.Column("seq", sa.BigInteger)
    )
    engine = sa.create_engine(normalize_url(url))
    if url.startswith("sqlite"):

        @sa.event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA synchronous=OFF")  # the load only
            cur.execute("PRAGMA journal_mode=MEMORY")
            cur.close()

    t0 = time.perf_counter()
    done = 0
    with engine.connect() as conn:
        while done < n:
            rows, place_rows = [], []
            for k in range(done, min(n, done + batch)):
                article, _entries = pool.row(k // 2)  # every article published, then updated
                seq = k + 1
                rows.append({
                    "seq": seq, "article_id": article["id"], "version": 1 + k % 2,
                    "op": "updated" if k % 2 else "published", "audience": "all",
                    "source": "bench", "at": T0 + timedelta(seconds=k), "doc": article["doc"],
                    "media": "{}",
                })  # fmt: skip
                place_rows.append({"name": f"region-{k % 30}", "seq": seq})
            with conn.begin():
                conn.execute(changes.insert(), rows)
                conn.execute(places.insert(), place_rows)
            done += len(rows)
            if n >= 100_000 and done % (n // 10) == 0:
                print(f"    {done:,} rows, {done / (time.perf_counter() - t0):,.0f}/s", flush=True)
        if url.startswith("postgresql"):
            # The loader gave the sequence numbers; the store's own appends continue after them.
            conn.execute(
                sa.text("SELECT setval(pg_get_serial_sequence('changes', 'seq'), :n)"), {"n": n}
            )
            conn.execute(sa.text("ANALYZE"))
            conn.commit()
        else:
            conn.exec_driver_sql("PRAGMA journal_mode=WAL")
    engine.dispose()
    return time.perf_counter() - t0


def measure(url: str, n: int, runs: int) -> dict[str, float]:
    """Median ms of a page of 100 at each position."""
    from feed.app import create_app
    from feed.cursors import encode
    from shared import keysecret, partners
    from shared.db import make_engine, make_sessionmaker
    from shared.settings import Settings

    data_dir = Path(tempfile.mkdtemp(prefix="nf-bench-partners-"))
    secret = uuid.uuid4().hex * 2
    settings = Settings.from_env(
        {"DATABASE_URL": url, "NEWSFLOW_DATA_DIR": str(data_dir), "NEWSFLOW_KEY_SECRET": secret,
         "REDIS_URL": "redis://127.0.0.1:1/0"}
    )  # fmt: skip
    engine = make_engine(url, True)
    with make_sessionmaker(engine).begin() as session:
        new = partners.create_partner(
            session, f"bench-{uuid.uuid4().hex[:8]}", [partners.SCOPE_CONTENT_READ],
            keysecret.secret_bytes(settings),
        )  # fmt: skip
        partner_id = session.scalar(sa.select(sa.text("id")).select_from(sa.text("partners")))
    engine.dispose()
    app = create_app(settings)
    client = app.test_client()
    headers = {"Authorization": f"Bearer {new.key}"}
    scope = "[null, null]"
    positions = {
        "first page": None,
        "middle": encode(keysecret.secret_bytes(settings), partner_id, scope, n // 2),
        "head": encode(keysecret.secret_bytes(settings), partner_id, scope, n - PAGE),
    }
    queries = {
        name: {"limit": PAGE} | ({"cursor": cursor} if cursor else {})
        for name, cursor in positions.items()
    }

    def once(query: dict) -> float:
        t0 = time.perf_counter()
        resp = client.get("/v1/partner/items", query_string=query, headers=headers)
        elapsed = time.perf_counter() - t0
        assert resp.status_code == 200, resp.get_data(as_text=True)[:500]
        assert len(resp.get_json()["items"]) == PAGE
        return elapsed * 1000

    for query in queries.values():  # warm-up: each position's pages read once or twice
        for _ in range(3):
            once(query)
    times: dict[str, list[float]] = {name: [] for name in queries}
    # The positions take turns, so a disturbance (another process, a checkpoint) falls on
    # all of them rather than on whichever was measured first.
    for _ in range(runs):
        for name, query in queries.items():
            times[name].append(once(query))
    out = {name: statistics.median(values) for name, values in times.items()}
    return out


def pull(args) -> int:
    from shared import migrate

    sizes = [int(s) for s in args.sizes.split(",")]
    pool = Pool(POOL)
    backends = [] if args.no_sqlite else ["sqlite"]
    backends += ["postgresql"] if args.postgres else []
    rows = []
    for backend in backends:
        base: dict[str, float] = {}
        for n in sizes:
            with contextlib.ExitStack() as stack:
                if backend == "sqlite":
                    tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="nf-bench-"))
                    url = f"sqlite:///{tmp}/store.db"
                else:
                    url = stack.enter_context(postgres_database(args.postgres_url))
                migrate.upgrade(url)
                print(f"{backend}: loading {n:,} changes", flush=True)
                seconds = load_changes(url, n, pool)
                print(f"  loaded in {seconds:.1f} s", flush=True)
                figures = measure(url, n, args.runs)
            for position, ms in figures.items():
                base.setdefault(position, ms)
                rows.append(
                    (backend, f"{n:,}", position, f"{ms:.1f}", f"{ms / base[position]:.2f}x")
                )
                print(
                    f"  {position}: {ms:.1f} ms ({ms / base[position]:.2f}x the {sizes[0]:,} store)"
                )
    print()
    print(table(rows, ("backend", "changes", "page of 100", "median ms", f"vs {sizes[0]:,}")))
    worst = max(float(r[4].rstrip("x")) for r in rows)
    print(f"\nworst ratio {worst:.2f} (target <= 1.2)")
    return 0


class Receivers:
    """N partner endpoints: real HTTP servers on 127.0.0.1 that note each arrival."""

    def __init__(self, n: int) -> None:
        import json
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.arrivals: list[tuple[int, int, float]] = []  # (endpoint, sequence, time)
        lock = threading.Lock()
        arrivals = self.arrivals

        def handler_for(index: int):
            class Handler(BaseHTTPRequestHandler):
                def do_POST(self):
                    body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                    at = time.time()
                    seq = json.loads(body)["data"]["sequence"]
                    with lock:
                        arrivals.append((index, seq, at))
                    self.send_response(200)
                    self.send_header("Content-Length", "0")
                    self.end_headers()

                def log_message(self, *args):
                    pass

            return Handler

        self.servers = [ThreadingHTTPServer(("127.0.0.1", 0), handler_for(i)) for i in range(n)]
        for server in self.servers:
            threading.Thread(target=server.serve_forever, daemon=True).start()

    def urls(self) -> list[str]:
        return [f"http://127.0.0.1:{s.server_address[1]}/hook" for s in self.servers]

    def close(self) -> None:
        for server in self.servers:
            server.shutdown()


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def webhooks(args) -> int:
    import json
    import shutil

    import requests

    from newsflow.launcher import Stack
    from shared import keysecret, partners
    from shared.db import make_engine, make_sessionmaker
    from shared.models import ChangeRow
    from shared.settings import Settings
    from shared.webhooks import endpoints

    tmp = Path(tempfile.mkdtemp(prefix="nf-bench-hooks-"))
    env = {
        "NEWSFLOW_DATA_DIR": str(tmp / "var"),
        "INGEST_PORT": str(_free_port()),
        "FEED_PORT": str(_free_port()),
        "FETCH_ALLOW_HOSTS": "127.0.0.1",  # the endpoints are local (the guard allows them)
        "LOG_FORMAT": "console",
    }
    if args.postgres:
        stack_db = contextlib.ExitStack()
        env["DATABASE_URL"] = stack_db.enter_context(postgres_database(args.postgres_url))
    settings = Settings.from_env(env)
    receivers = Receivers(args.endpoints)
    stack = Stack(settings, concurrency=2)
    rows = []
    try:
        stack.start()
        settings = stack.settings
        from newsflow import localkeys

        key = localkeys.issue(settings, "bench", ["ingest:write"], ["bench"], localkeys.UNLIMITED)
        engine = make_engine(settings.database_url, True)
        sessions = make_sessionmaker(engine)
        secret = keysecret.secret_bytes(settings)

        def add_endpoints(urls: list[str]) -> None:
            with sessions.begin() as session:
                for url in urls:
                    name = f"hook-{uuid.uuid4().hex[:8]}"
                    partners.create_partner(session, name, [partners.SCOPE_CONTENT_READ], secret)
                    session.flush()
                    endpoints.add(session, name, url, ["published"], secret, datetime.now(UTC))

        def run(n_articles: int, phase: str, endpoints_now: int) -> None:
            posted: dict[int, float] = {}
            start = len(receivers.arrivals)
            for i in range(n_articles):
                doc = {
                    "source": "bench", "guid": f"hook-{uuid.uuid4().hex}", "language": "zh-CN",
                    "versionCreated": datetime.now(UTC).isoformat(),
                    "headlines": [{"value": f"推送测试 {phase} {i}"}],
                    "bodies": [{"value": "<p>正文。</p>" * 20}],
                }  # fmt: skip
                t0 = time.time()
                resp = requests.post(
                    f"{stack.ingest_url}/v1/articles", json=doc,
                    headers={"Authorization": f"Bearer {key}"}, timeout=30,
                )  # fmt: skip
                assert resp.status_code == 202, resp.text
                posted[i] = t0
                time.sleep(1 / args.rate)
            deadline = time.time() + 60
            want = start + n_articles * endpoints_now
            while len(receivers.arrivals) < want and time.time() < deadline:
                time.sleep(0.1)
            got = receivers.arrivals[start:]
            with engine.connect() as conn:
                at = dict(conn.execute(sa.select(ChangeRow.seq, ChangeRow.at)).all())
            lat = [(t - at[seq].timestamp()) * 1000 for _, seq, t in got]
            first_post = min(posted.values())
            rows.append((phase, endpoints_now, len(got), want - start, lat, first_post))

        warm = 3
        add_endpoints(receivers.urls()[:1])
        run(warm, "warm-up", 1)
        rows.clear()
        run(args.articles, "1 endpoint", 1)
        add_endpoints(receivers.urls()[1:])
        run(args.articles, f"{args.endpoints} endpoints", args.endpoints)
        engine.dispose()
    finally:
        stack.stop()
        receivers.close()
        if args.postgres:
            stack_db.close()
        shutil.rmtree(tmp, ignore_errors=True)
    base = None
    table_rows = []
    for phase, _n, got, want, lat, _ in rows:
        p50, p99 = _pct(lat, 0.5), _pct(lat, 0.99)
        base = base or (p50, p99)
        table_rows.append((phase, f"{got}/{want}", f"{p50:.0f}", f"{p99:.0f}",
                           f"{p50 / base[0]:.2f}x", f"{p99 / base[1]:.2f}x"))  # fmt: skip
    backend = "PostgreSQL" if args.postgres else "SQLite"
    print(f"\npublish (change committed) -> webhook received, {backend}, "
          f"{args.articles} articles at {args.rate}/s:")  # fmt: skip
    print(table(table_rows, ("endpoints", "received", "p50 ms", "p99 ms", "p50 vs 1", "p99 vs 1")))
    print("targets with 20 endpoints: p50 <= 200 ms, p99 <= 1000 ms")
    print(json.dumps({"when": f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC"}))
    return 0


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="what", required=True)
    p = sub.add_parser("pull", help="a page of 100 items at 10^3 and 10^6 changes")
    p.add_argument("--sizes", default="1000,1000000", help="log sizes (first = baseline)")
    p.add_argument("--runs", type=int, default=30, help="timed requests per position (median)")
    p.add_argument("--postgres", action="store_true", help="also PostgreSQL")
    p.add_argument("--postgres-url", default=os.environ.get("TEST_POSTGRES_URL", PG_URL))
    p.add_argument("--no-sqlite", action="store_true")
    w = sub.add_parser("webhooks", help="publish -> webhook received, 1 and N endpoints")
    w.add_argument("--endpoints", type=int, default=20)
    w.add_argument("--articles", type=int, default=40, help="articles per phase")
    w.add_argument("--rate", type=float, default=2.0, help="articles posted a second")
    w.add_argument("--postgres", action="store_true", help="the stack on PostgreSQL")
    w.add_argument("--postgres-url", default=os.environ.get("TEST_POSTGRES_URL", PG_URL))
    args = ap.parse_args()
    return pull(args) if args.what == "pull" else webhooks(args)


if __name__ == "__main__":
    sys.exit(main())
