#!/usr/bin/env python
"""A feed rebuild with 10^3 and with 10^6 articles in the store: does its cost grow with the
store? Every figure is printed as a ratio to the 10^3 store on the same backend.

    .venv/bin/python benchmarks/rebuild.py                       # SQLite, 10^3 and 10^6
    .venv/bin/python benchmarks/rebuild.py --postgres            # and PostgreSQL
    .venv/bin/python benchmarks/rebuild.py --sizes 1000,100000   # quicker

For each backend and size: a fresh database migrated with ``shared.migrate.upgrade``; rows
bulk-inserted with SQLAlchemy Core (executemany in batches; SQLite with
``PRAGMA synchronous=OFF`` for the load only): N published articles (realistic CJK
documents, see benchmarks/serve.py) and their feed_entries rows (``all``, a region feed and a
source feed, so 3N rows). Then, with the worker's own code on that store:

- ``newest_entries(session, "all", 50)``, the indexed range scan on (feed_key, sort_at);
- ``render.feedbuild.rebuild_feed(ctx, "all")``, the whole task: query, view models, RSS +
  Atom + JSON Feed, .br/.gz siblings, channel page, atomic writes (the feed files are
  removed before each run, so each one writes and compresses, as a rebuild after a
  publication does).

The newest 50 articles are the same documents in both stores. PostgreSQL: a database of our
own is created on the server named by ``--postgres-url`` and dropped afterwards; ANALYZE runs
after the load (autovacuum would do it on a live server). Only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import shutil
import socket
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
from serve import ArticleMaker

PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
POOL = 500  # distinct documents; row k carries document k % POOL
FEED = "all"
T0 = datetime(2018, 1, 1, tzinfo=UTC)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Pool:
    """Documents pre-serialized once; per row only the guid and the dates change."""

    def __init__(self, size: int) -> None:
        maker = ArticleMaker()
        self.docs = []
        for i in range(size):
            doc = maker.doc(i)
            doc["guid"] = "@@GUID@@"
            doc["firstCreated"] = doc["versionCreated"] = "@@WHEN@@"
            text = json.dumps(doc)  # as SQLAlchemy's JSON type stores it (ensure_ascii)
            self.docs.append((text, doc["places"][0]["name"], doc["infoSources"][0]["name"]))

    def row(self, k: int) -> tuple[dict, list[dict]]:
        text, region, source = self.docs[k % len(self.docs)]
        when = T0 + timedelta(seconds=37 * k)
        iso = when.isoformat()
        guid = f"bench-{k:08d}"
        aid = hashlib.blake2b(guid.encode(), digest_size=16).hexdigest()
        article = {
            "id": aid,
            "source": "bench",
            "guid": guid,
            "version": 1,
            "content_hash": hashlib.sha256(guid.encode()).hexdigest(),
            "doc": text.replace("@@GUID@@", guid).replace("@@WHEN@@", iso),
            "status": "published",
            "status_reason": None,
            "media": "{}",
            "version_created": when,
            "first_created": when,
            "received_at": when,
            "updated_at": when,
            "published_at": when,
            "published_version": 1,
        }
        entries = [
            {"feed_key": key, "article_id": aid, "sort_at": when}
            for key in (FEED, f"region/{region}", f"source/{source}")
        ]
        return article, entries


class PgRawJSON(sa.types.UserDefinedType):
    """PostgreSQL's json column, fed text that is already JSON (serialized once per pool
    document): the text is sent as is and cast by the server."""

    cache_ok = True

    def get_col_spec(self, **kw) -> str:
        return "JSON"

    def bind_expression(self, bindvalue):
        return sa.cast(bindvalue, sa.JSON)


def load(url: str, n: int, pool: Pool, batch: int = 5000) -> float:
    """Bulk-insert n articles and 3n feed entries; returns seconds."""
    from shared.db import normalize_url
    from shared.models import UTCDateTime

    # SQLite keeps the JSON type as TEXT: the serialized document goes in as it is.
    RawJSON = sa.Text if url.startswith("sqlite") else PgRawJSON
    md = sa.MetaData()
    cols = [
        sa.Column("id", sa.String), sa.Column("source", sa.String), sa.Column("guid", sa.String),
        sa.Column("version", sa.Integer), sa.Column("content_hash", sa.String),
        sa.Column("doc", RawJSON), sa.Column("status", sa.String),
        sa.Column("status_reason", sa.Text), sa.Column("media", RawJSON),
        *(sa.Column(c, UTCDateTime) for c in ("version_created", "first_created",
          "received_at", "updated_at", "published_at")),
        sa.Column("published_version", sa.Integer),
    ]  # fmt: skip
    articles = sa.Table("articles", md, *cols)
    entries = sa.Table(
        "feed_entries", md,
        sa.Column("feed_key", sa.String), sa.Column("article_id", sa.String),
        sa.Column("sort_at", UTCDateTime),
    )  # fmt: skip
    engine = sa.create_engine(normalize_url(url))
    if url.startswith("sqlite"):

        @sa.event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA synchronous=OFF")  # the load only: the app's engine sets NORMAL
            cur.execute("PRAGMA journal_mode=MEMORY")
            cur.execute("PRAGMA cache_size=-200000")
            cur.close()

    t0 = time.perf_counter()
    done = 0
    with engine.connect() as conn:
        while done < n:
            rows = [pool.row(k) for k in range(done, min(n, done + batch))]
            with conn.begin():
                conn.execute(articles.insert(), [a for a, _ in rows])
                conn.execute(entries.insert(), [e for _, es in rows for e in es])
            done += len(rows)
            if n >= 100_000 and done % (n // 10) == 0:
                rate = done / (time.perf_counter() - t0)
                print(f"    {done:,} rows, {rate:,.0f}/s", flush=True)
        if url.startswith("postgresql"):
            conn.execute(sa.text("ANALYZE"))
            conn.commit()
        else:
            # The store runs in WAL mode (shared.db); switching flushes the freshly loaded
            # file once. Done here, so the first timed query does not pay for the load.
            conn.exec_driver_sql("PRAGMA journal_mode=WAL")
    engine.dispose()
    return time.perf_counter() - t0


@contextlib.contextmanager
def postgres_database(admin_url: str):
    from shared.db import make_engine, normalize_url

    admin = make_engine(admin_url)
    name = f"newsflow_bench_{uuid.uuid4().hex[:12]}"
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield normalize_url(admin_url).rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def plan(ctx) -> str:
    """How the store runs the feed query (it must be an index range scan)."""
    from render.feedbuild import newest_entries  # noqa: F401  (the query below is its first)

    sql = (
        "SELECT article_id FROM feed_entries WHERE feed_key = 'all' "
        "ORDER BY sort_at DESC, article_id DESC LIMIT 50"
    )
    with ctx.sessions() as s:
        if s.bind.dialect.name == "sqlite":
            rows = s.execute(sa.text(f"EXPLAIN QUERY PLAN {sql}")).all()
            return "; ".join(r[-1] for r in rows)
        rows = s.execute(sa.text(f"EXPLAIN {sql}")).all()
        return "; ".join(r[0].strip() for r in rows)


def measure(url: str, data_dir: Path, redis_url: str, runs: int) -> dict[str, float]:
    from render.context import RenderContext
    from render.feedbuild import newest_entries, rebuild_feed
    from shared.settings import Settings

    settings = Settings.from_env(
        {"NEWSFLOW_DATA_DIR": str(data_dir), "DATABASE_URL": url, "REDIS_URL": redis_url}
    )
    ctx = RenderContext.build(settings)
    feeds = settings.artifacts_dir / "feeds"
    out: dict[str, float] = {"plan": 0.0}
    # the query alone
    times = []
    for _ in range(max(20, runs)):
        t = time.perf_counter()
        with ctx.sessions() as s:
            rows = newest_entries(s, FEED, settings.feed_size)
        times.append(time.perf_counter() - t)
    assert len(rows) == settings.feed_size
    out["query first"] = times[0]
    out["query"] = statistics.median(times[1:])
    # the whole rebuild, each time from no feed files (so every format is written)
    times = []
    for _ in range(runs + 1):
        shutil.rmtree(feeds, ignore_errors=True)
        t = time.perf_counter()
        result = rebuild_feed(ctx, FEED)
        times.append(time.perf_counter() - t)
        assert result.entries == settings.feed_size and len(result.changed) == 3, result
    out["rebuild first"] = times[0]
    out["rebuild"] = statistics.median(times[1:])
    ctx.sessions.kw["bind"].dispose()
    print(f"    plan: {plan(ctx)}")
    return out


def stages(url: str, data_dir: Path, redis_url: str, runs: int) -> dict[str, float]:
    """Where a rebuild's time goes: the same steps rebuild_feed takes, timed one by one."""
    from render import compress, pages, view
    from render.context import RenderContext
    from render.feedbuild import feed_links, feed_title, newest_entries
    from render.feeds import WRITERS, FeedView
    from shared.settings import Settings

    settings = Settings.from_env(
        {"NEWSFLOW_DATA_DIR": str(data_dir), "DATABASE_URL": url, "REDIS_URL": redis_url}
    )
    ctx = RenderContext.build(settings)
    base = settings.public_base_url
    acc: dict[str, list[float]] = {}
    cur: dict[str, float] = {}

    def lap(name: str, t: float) -> float:
        now = time.perf_counter()
        cur[name] = cur.get(name, 0.0) + now - t
        return now

    for _ in range(runs):
        cur.clear()
        t = time.perf_counter()
        with ctx.sessions() as session:
            rows = newest_entries(session, FEED, settings.feed_size)
            t = lap("query (newest_entries)", t)
            entries = [
                view.build(r.id, r.published_version, r.doc, r.media, r.first_created, base)
                for r in rows
            ]
        t = lap("view models", t)
        fv = FeedView(
            key=FEED, title=feed_title(settings.feed_title, FEED), description="the newest 50",
            language="zh-CN", home_url=f"{base}/",
            self_urls={f: view.feed_url(base, FEED, f) for f in WRITERS},
            id_authority=settings.tag_authority, site=settings.feed_title, base=base,
            entries=entries, hub_url=settings.websub_hub_url,
        )  # fmt: skip
        docs = {}
        for fmt, write in WRITERS.items():
            docs[fmt] = write(fv)
            t = lap(f"write {fmt}", t)
        for fmt, data in docs.items():
            data_gz = compress.siblings(data)  # what the worker does (render.compress)
            t = lap(f"compress {fmt} (.br + .gz, {len(data) // 1024} KiB)", t)
            ctx.artifacts.put_many({f"feeds/bench.{fmt}": data})
            ctx.artifacts.put_many(
                {f"feeds/bench.{fmt}.{suffix}": packed for suffix, packed in data_gz.items()}
            )
            t = lap("atomic writes (9 files, fsync, put_many as the worker)", t)
        links = feed_links(base, [FEED], fv.title)
        page = pages.render_channel(ctx.jinja, fv.title, entries, links, base, "newsflow")
        ctx.artifacts.put("pages/bench.html", page.encode())
        t = lap("channel page", t)
        for k, v in cur.items():
            acc.setdefault(k, []).append(v)
    return {k: statistics.median(v) for k, v in acc.items()}


def compression_options(data: bytes, runs: int = 3) -> list[tuple[str, float, int]]:
    """(setting, seconds, bytes) for the worker's siblings and cheaper settings."""
    import gzip

    import brotli
    from isal import igzip

    options = [
        ("br q11", lambda d: brotli.compress(d, quality=11, mode=brotli.MODE_TEXT)),
        ("br q9", lambda d: brotli.compress(d, quality=9, mode=brotli.MODE_TEXT)),
        ("br q5 (shipped)", lambda d: brotli.compress(d, quality=5, mode=brotli.MODE_TEXT)),
        ("br q4", lambda d: brotli.compress(d, quality=4, mode=brotli.MODE_TEXT)),
        ("gzip -9 (zlib)", lambda d: gzip.compress(d, compresslevel=9, mtime=0)),
        ("gzip -6 (zlib)", lambda d: gzip.compress(d, compresslevel=6, mtime=0)),
        ("gzip 3 (ISA-L, shipped)", lambda d: igzip.compress(d, compresslevel=3, mtime=0)),
        ("gzip 1 (ISA-L)", lambda d: igzip.compress(d, compresslevel=1, mtime=0)),
    ]
    out = []
    for name, fn in options:
        times = []
        for _ in range(runs):
            t = time.perf_counter()
            packed = fn(data)
            times.append(time.perf_counter() - t)
        out.append((name, statistics.median(times), len(packed)))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="1000,1000000", help="store sizes (first = baseline)")
    ap.add_argument("--runs", type=int, default=7, help="timed rebuilds per store (median)")
    ap.add_argument("--postgres", action="store_true", help="also PostgreSQL")
    ap.add_argument("--postgres-url", default=os.environ.get("TEST_POSTGRES_URL", PG_URL))
    ap.add_argument("--no-sqlite", action="store_true")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    assert args.postgres_url.split("@")[-1].startswith(("127.0.0.1", "localhost")), "loopback only"

    from newsflow import redis_server
    from shared import migrate

    tmp = Path(tempfile.mkdtemp(prefix="newsflow-rebuild-"))
    redis_proc, redis_url = redis_server.start(tmp / "redis", port=free_port(), persist=False)
    results: dict[tuple[str, int], dict[str, float]] = {}
    breakdown = None
    atom = None
    try:
        t = time.perf_counter()
        pool = Pool(POOL)
        print(f"{POOL} distinct documents made in {time.perf_counter() - t:.1f}s")
        backends = ([] if args.no_sqlite else ["sqlite"]) + (
            ["postgresql"] if args.postgres else []
        )
        for backend in backends:
            for n in sizes:
                data_dir = tmp / f"{backend}-{n}"
                with contextlib.ExitStack() as stack:
                    if backend == "sqlite":
                        url = f"sqlite:///{data_dir / 'newsflow.db'}"
                    else:
                        url = stack.enter_context(postgres_database(args.postgres_url))
                    migrate.upgrade(url)
                    print(f"{backend}, {n:,} articles: loading", flush=True)
                    secs = load(url, n, pool)
                    size = ""
                    if backend == "sqlite":
                        size = f", {(data_dir / 'newsflow.db').stat().st_size / 2**20:,.0f} MiB"
                    print(f"    loaded in {secs:.1f}s ({n / secs:,.0f} articles/s{size})")
                    results[(backend, n)] = measure(url, data_dir, redis_url, args.runs)
                    if breakdown is None:
                        breakdown = stages(url, data_dir, redis_url, 3)
                        atom = (data_dir / "artifacts" / "feeds" / "all.atom").read_bytes()
                if backend == "sqlite":
                    shutil.rmtree(data_dir, ignore_errors=True)

        print(f"\nmedians of {args.runs} runs; baseline: the {sizes[0]:,}-article store "
              "on the same backend = 1.00")  # fmt: skip
        rows = []
        for (backend, n), r in results.items():
            b = results[(backend, sizes[0])]
            rows.append((
                backend, f"{n:,}",
                f"{r['query'] * 1e3:.2f}", f"{r['query'] / b['query']:.2f}",
                f"{r['query first'] * 1e3:.1f}",
                f"{r['rebuild'] * 1e3:.0f}", f"{r['rebuild'] / b['rebuild']:.2f}",
                f"{r['rebuild first'] * 1e3:.0f}",
            ))  # fmt: skip
        print(table(rows, ("store", "articles", "query ms", "query ×", "first query ms",
                           "rebuild ms", "rebuild ×", "first rebuild ms")))  # fmt: skip
        print("\ntarget: the largest store's rebuild ≤ 1.20 × the smallest's")
        for backend in backends:
            big, small = results[(backend, sizes[-1])], results[(backend, sizes[0])]
            ratio = big["rebuild"] / small["rebuild"]
            print(f"  {backend}: {ratio:.2f} {'met' if ratio <= 1.2 else 'MISSED'}")
        if breakdown:
            total = sum(breakdown.values())
            print(f"\nwhere a rebuild's time goes ({backends[0]}, {sizes[0]:,} articles, "
                  "median of 3; baseline: the sum = 1.00)")  # fmt: skip
            rows = [(k, f"{v * 1e3:.1f}", f"{v / total:.2f}") for k, v in breakdown.items()]
            rows.append(("sum", f"{total * 1e3:.1f}", "1.00"))
            print(table(rows, ("step", "ms", "share")))
        if atom:
            opts = compression_options(atom)
            t0, b0 = opts[0][1], opts[0][2]
            print(f"\ncompressing the {len(atom) // 1024} KiB all.atom (median of 3; baseline: "
                  "br q11 = 1.00)")  # fmt: skip
            rows = [
                (name, f"{t * 1e3:.1f}", f"{t / t0:.3f}", f"{n // 1024}", f"{n / b0:.2f}")
                for name, t, n in opts
            ]
            print(table(rows, ("setting", "ms", "time ×", "KiB", "size ×")))
    finally:
        redis_server_stop(redis_proc)
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


def redis_server_stop(proc) -> None:
    if proc.poll() is None:
        proc.terminate()
        proc.wait(timeout=10)


if __name__ == "__main__":
    sys.exit(main())
