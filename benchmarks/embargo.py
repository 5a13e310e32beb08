#!/usr/bin/env python
"""Embargo release lateness on the embedded default: from an article's ``embargoedUntil`` to
its presence in the served /feeds/all.atom, released by ``newsflow scheduler`` with no
manual step.

    .venv/bin/python benchmarks/embargo.py                 # 60 embargoes over a minute
    .venv/bin/python benchmarks/embargo.py --count 20      # quicker

The system is started as ``newsflow up`` starts it (``newsflow.launcher.Stack``: a private
Redis on a unix socket, SQLite, one Celery worker, the relay, the scheduler, ingest and feed)
in a temp data dir on free 127.0.0.1 ports, after the store is prefilled (``--prefill``, as
benchmarks/freshness.py does) so every feed is full.

``--count`` text-only CJK articles are posted first, each with an embargo ending at its own
moment, spread evenly over ``--spread`` seconds starting ``--lead`` seconds after the posts
(so all are held first); ``firstCreated`` is the embargo's end, so each released article is
the newest in the feed when it appears. While they fall due, ``--baseline`` articles without
an embargo are posted between the due times. One poller sends a conditional GET for
/feeds/all.atom every 10 ms and notes when each entry first appears.

Measured: lateness = first seen in the feed − embargoedUntil (wall clock, one machine), its
p50/p95/p99/max; an embargoed article seen before its time counts as a leak (must be 0).
Baseline, in the same run: an unembargoed article's POST → in the feed, p50/p99; lateness
is printed as a multiple of the baseline's p50 (the release costs the scheduler's pick-up on
top of the usual path: page, publish, rebuild). Target: lateness p99 <= 2 s.

Only 127.0.0.1 is contacted; every loop is bounded in count and time.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import requests
from _common import table
from freshness import Poller, free_port, pct
from serve import ArticleMaker

TARGET_P99_S = 2.0
SOURCE = "embargo-bench"


def post(session: requests.Session, url: str, key: str, doc: dict) -> str:
    resp = session.post(url, json=doc, headers={"Authorization": f"Bearer {key}"}, timeout=30)
    if resp.status_code != 202:
        raise RuntimeError(f"POST answered {resp.status_code}: {resp.text[:300]}")
    return resp.json()["id"]


def make_doc(maker: ArticleMaker, run: str, n: int, when: datetime) -> dict:
    doc = maker.doc(n, when=when)
    doc["guid"] = f"embargo-{run}-{n}"
    doc["source"] = SOURCE
    return doc


def wait_held(engine, ids: list[str], timeout: float) -> int:
    """Until every embargoed article is held by the worker (status embargoed)."""
    import sqlalchemy as sa

    deadline = time.monotonic() + timeout
    held = 0
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            held = conn.execute(
                sa.text("SELECT count(*) FROM articles WHERE source = :s AND status = 'embargoed'"),
                {"s": SOURCE},
            ).scalar()
        if held >= len(ids):
            return held
        time.sleep(0.1)
    return held


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--count", type=int, default=60, help="embargoed articles (default 60)")
    ap.add_argument("--spread", type=float, default=60, help="seconds they fall due over")
    ap.add_argument("--lead", type=float, default=20, help="seconds before the first is due")
    ap.add_argument("--baseline", type=int, default=20, help="unembargoed articles meanwhile")
    ap.add_argument("--prefill", type=int, default=1000, help="published articles already there")
    ap.add_argument("--keep", action="store_true", help="keep the data dir (logs, store)")
    args = ap.parse_args()
    assert args.count <= 1000 and args.spread <= 600 and args.baseline <= 500, "bounded runs"

    from newsflow import localkeys
    from newsflow.launcher import Stack
    from shared.db import make_engine
    from shared.settings import Settings

    tmp = Path(tempfile.mkdtemp(prefix="newsflow-embargo-"))
    settings = Settings.from_env(
        {
            "NEWSFLOW_DATA_DIR": str(tmp / "var"),
            "INGEST_PORT": str(free_port()),
            "FEED_PORT": str(free_port()),
        }
    )
    if args.prefill:
        from rebuild import POOL, Pool, load

        from shared import migrate

        settings.data_dir.mkdir(parents=True)
        migrate.upgrade(settings.database_url)
        secs = load(settings.database_url, args.prefill, Pool(min(POOL, args.prefill)))
        print(f"prefilled the store with {args.prefill} published articles in {secs:.1f}s")
    stack = Stack(settings)
    try:
        stack.start()
        print(f"up: ingest {stack.ingest_url}, feed {stack.feed_url}")
        engine = make_engine(settings.database_url)
        key = localkeys.issue(
            stack.settings, "bench", ["ingest:write"], [SOURCE], localkeys.UNLIMITED
        )
        url = f"{stack.ingest_url}/v1/articles"
        maker, run, session = ArticleMaker(seed=7), uuid.uuid4().hex[:8], requests.Session()
        # Warm-up: one article through the whole path.
        warm = post(session, url, key, make_doc(maker, run, 10**6, datetime.now(UTC)))
        poller = Poller(f"{stack.feed_url}/feeds/all.atom")
        threading.Thread(
            target=poller.run, args=(args.lead + args.spread + 120,), daemon=True
        ).start()
        deadline = time.monotonic() + 60
        while warm not in poller.seen and time.monotonic() < deadline:
            time.sleep(0.05)

        first_due = datetime.now(UTC) + timedelta(seconds=args.lead)
        step = args.spread / max(args.count, 1)
        due: dict[str, datetime] = {}
        for i in range(args.count):
            until = first_due + timedelta(seconds=i * step)
            doc = make_doc(maker, run, i, until)  # firstCreated: the embargo's end
            doc["embargoedUntil"] = until.isoformat()
            due[post(session, url, key, doc)] = until
        print(f"posted {len(due)} embargoed articles, due over {args.spread:.0f}s from "
              f"{first_due:%H:%M:%S} UTC")  # fmt: skip
        held = wait_held(engine, list(due), timeout=max(args.lead - 2, 5))
        print(f"{held} held by the worker before the first was due")

        baseline: dict[str, float] = {}  # id -> wall time posted
        gap = args.spread / max(args.baseline, 1)
        for j in range(args.baseline):
            at = first_due + timedelta(seconds=j * gap + step / 2)  # between two due times
            pause = (at - datetime.now(UTC)).total_seconds()
            if pause > 0:
                time.sleep(pause)
            sent = time.time()
            doc = make_doc(maker, run, 10**5 + j, datetime.now(UTC))
            baseline[post(session, url, key, doc)] = sent

        end = time.monotonic() + max(args.spread, 0) + 60
        while time.monotonic() < end and not all(i in poller.seen for i in [*due, *baseline]):
            time.sleep(0.1)
        poller.stop()

        late = [poller.seen[i][1] - due[i].timestamp() for i in due if i in poller.seen]
        leaks = sum(1 for v in late if v < 0)
        missing = sum(1 for i in due if i not in poller.seen)
        fresh = [poller.seen[i][1] - baseline[i] for i in baseline if i in poller.seen]
        base50 = pct(fresh, 50)
        rows = [
            (
                "embargo end -> in feed",
                len(late),
                *(f"{pct(late, q):.3f}" for q in (50, 95, 99)),
                f"{max(late):.3f}" if late else "-",
                f"{pct(late, 99) / base50:.1f}x" if fresh else "-",
            ),
            (
                "baseline: POST -> in feed",
                len(fresh),
                *(f"{pct(fresh, q):.3f}" for q in (50, 95, 99)),
                f"{max(fresh):.3f}" if fresh else "-",
                "1.0x",
            ),
        ]
        print()
        print(table(rows, ("", "n", "p50 s", "p95 s", "p99 s", "max s", "p99 / baseline p50")))
        p99 = pct(late, 99)
        verdict = "met" if p99 <= TARGET_P99_S and not leaks and not missing else "NOT met"
        print(f"\nleaks (seen before the embargo ended): {leaks}; never seen: {missing}")
        print(f"target lateness p99 <= {TARGET_P99_S:.0f} s: {verdict} ({p99:.3f} s)")
        print(f"poller: {poller.polls} polls, {poller.errors} errors")
        print(f"machine: {sys.platform}, {len(os.sched_getaffinity(0))} cores; "
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
