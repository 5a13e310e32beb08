#!/usr/bin/env python
"""``newsflow backup`` and ``newsflow restore`` with 10^3 and 10^6 articles in the store:
does their memory stay flat as the store grows (issue 11: "streaming, constant memory at
10^6 articles")? Every figure is printed as a ratio to the smallest store.

    .venv/bin/python benchmarks/backup.py                        # 10^3 and 10^6, into SQLite
    .venv/bin/python benchmarks/backup.py --postgres             # and into PostgreSQL
    .venv/bin/python benchmarks/backup.py --sizes 1000,100000    # quicker

For each size: a fresh SQLite store (the embedded default, the one a team moves away from)
migrated and bulk-loaded as benchmarks/rebuild.py loads it (N published articles with
realistic CJK documents, 3N feed entries). Then, as an operator runs them, each command a
process of its own under ``/usr/bin/time`` (peak RSS of that process, wall time):

- ``newsflow backup FILE.jsonl.gz`` from the SQLite store;
- ``newsflow restore FILE.jsonl.gz`` into an empty SQLite store (a new data dir), and with
  ``--postgres`` into an empty PostgreSQL database created on ``--postgres-url`` (and dropped
  afterwards). Only 127.0.0.1 is contacted.

The target is a peak RSS ratio close to 1.00 between the largest and the smallest store:
memory that grows with the store would show as a ratio near the size ratio.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import table
from rebuild import PG_URL, POOL, Pool, load, postgres_database

ROOT = Path(__file__).resolve().parents[1]


def measured(args: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """(seconds, peak RSS in MiB, stdout) of ``python -m newsflow ARGS`` in its own process."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as report:
        cmd = ["/usr/bin/time", "-f", "%M %e", "-o", report.name,
               sys.executable, "-m", "newsflow", *args]  # fmt: skip
        run = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=ROOT)
        if run.returncode != 0:
            raise SystemExit(f"newsflow {' '.join(args)} failed:\n{run.stderr[-3000:]}")
        kib, secs = report.read().split()[-2:]
    return float(secs), int(kib) / 1024, run.stdout


def restored_articles(stdout: str) -> int:
    found = re.search(r"(\d+) articles", stdout)
    return int(found.group(1)) if found else 0


def env_for(data_dir: Path, url: str) -> dict[str, str]:
    # Backup and restore talk to the store only; REDIS_URL is never contacted.
    return {**os.environ, "NEWSFLOW_DATA_DIR": str(data_dir), "DATABASE_URL": url}


def one_size(n: int, pool: Pool, tmp: Path, targets: list[str], pg_url: str) -> list[dict]:
    from shared import migrate

    src = tmp / f"src-{n}"
    url = f"sqlite:///{src / 'newsflow.db'}"
    src.mkdir()
    migrate.upgrade(url)
    print(f"{n:,} articles: loading", flush=True)
    secs = load(url, n, pool)
    db_mib = (src / "newsflow.db").stat().st_size / 2**20
    print(f"    loaded in {secs:.1f}s ({db_mib:,.0f} MiB)", flush=True)
    dump = tmp / f"store-{n}.jsonl.gz"
    b_secs, b_rss, _ = measured(["backup", str(dump)], env_for(src, url))
    dump_mib = dump.stat().st_size / 2**20
    print(f"    backup: {b_secs:.1f}s, peak {b_rss:.0f} MiB, file {dump_mib:,.0f} MiB", flush=True)
    shutil.rmtree(src)
    rows = []
    for target in targets:
        dest = tmp / f"dest-{target}-{n}"
        dest.mkdir()
        with contextlib.ExitStack() as stack:
            if target == "sqlite":
                dest_url = f"sqlite:///{dest / 'newsflow.db'}"
            else:
                dest_url = stack.enter_context(postgres_database(pg_url))
            r_secs, r_rss, out = measured(["restore", str(dump)], env_for(dest, dest_url))
        assert restored_articles(out) == n, out
        print(f"    restore into {target}: {r_secs:.1f}s, peak {r_rss:.0f} MiB", flush=True)
        shutil.rmtree(dest)
        rows.append({"target": target, "n": n, "backup s": b_secs, "backup MiB": b_rss,
                     "file MiB": dump_mib, "restore s": r_secs, "restore MiB": r_rss})  # fmt: skip
    dump.unlink()
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="1000,1000000", help="store sizes (first = baseline)")
    ap.add_argument("--postgres", action="store_true", help="also restore into PostgreSQL")
    ap.add_argument("--postgres-url", default=os.environ.get("TEST_POSTGRES_URL", PG_URL))
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    assert args.postgres_url.split("@")[-1].startswith(("127.0.0.1", "localhost")), "loopback only"
    targets = ["sqlite"] + (["postgresql"] if args.postgres else [])

    tmp = Path(tempfile.mkdtemp(prefix="newsflow-backup-"))
    results: list[dict] = []
    try:
        t = time.perf_counter()
        pool = Pool(POOL)
        print(f"{POOL} distinct documents made in {time.perf_counter() - t:.1f}s")
        for n in sizes:
            results += one_size(n, pool, tmp, targets, args.postgres_url)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    base = {r["target"]: r for r in results if r["n"] == sizes[0]}
    print(f"\none run each; baseline: the {sizes[0]:,}-article store (same target) = 1.00; "
          "rows: articles + 3 feed entries each")  # fmt: skip
    rows = []
    for r in results:
        b = base[r["target"]]
        rows.append((
            f"sqlite → {r['target']}", f"{r['n']:,}", f"{r['file MiB']:,.1f}",
            f"{r['backup MiB']:.0f}", f"{r['backup MiB'] / b['backup MiB']:.2f}",
            f"{r['backup s']:.1f}", f"{r['n'] * 4 / r['backup s']:,.0f}",
            f"{r['restore MiB']:.0f}", f"{r['restore MiB'] / b['restore MiB']:.2f}",
            f"{r['restore s']:.1f}", f"{r['n'] * 4 / r['restore s']:,.0f}",
        ))  # fmt: skip
    print(table(rows, ("move", "articles", "file MiB", "backup peak MiB", "×", "backup s",
                       "rows/s", "restore peak MiB", "×", "restore s", "rows/s")))  # fmt: skip
    print("\ntarget: the largest store's peak RSS ≤ 1.20 × the smallest's")
    for r in results:
        if r["n"] == sizes[-1]:
            b = base[r["target"]]
            for step in ("backup", "restore"):
                ratio = r[f"{step} MiB"] / b[f"{step} MiB"]
                verdict = "met" if ratio <= 1.2 else "MISSED"
                print(f"  {step} (→ {r['target']}): {ratio:.2f} {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
