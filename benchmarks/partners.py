#!/usr/bin/env python
"""Partner syndication: does a page of the pull API cost the same at 10^3 and at 10^6 changes?

    .venv/bin/python benchmarks/partners.py pull                       # SQLite, 10^3 and 10^6
    .venv/bin/python benchmarks/partners.py pull --postgres            # and PostgreSQL
    .venv/bin/python benchmarks/partners.py pull --sizes 1000,100000   # quicker

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
    out = {}
    for name, cursor in positions.items():
        query = {"limit": PAGE} | ({"cursor": cursor} if cursor else {})
        times = []
        for i in range(runs + 2):
            t0 = time.perf_counter()
            resp = client.get("/v1/partner/items", query_string=query, headers=headers)
            elapsed = time.perf_counter() - t0
            assert resp.status_code == 200, resp.get_data(as_text=True)[:500]
            assert len(resp.get_json()["items"]) == PAGE
            if i >= 2:  # two warm-up requests
                times.append(elapsed * 1000)
        out[name] = statistics.median(times)
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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="what", required=True)
    p = sub.add_parser("pull", help="a page of 100 items at 10^3 and 10^6 changes")
    p.add_argument("--sizes", default="1000,1000000", help="log sizes (first = baseline)")
    p.add_argument("--runs", type=int, default=30, help="timed requests per position (median)")
    p.add_argument("--postgres", action="store_true", help="also PostgreSQL")
    p.add_argument("--postgres-url", default=os.environ.get("TEST_POSTGRES_URL", PG_URL))
    p.add_argument("--no-sqlite", action="store_true")
    args = ap.parse_args()
    return pull(args)


if __name__ == "__main__":
    sys.exit(main())
