#!/usr/bin/env python
"""Serving a feed: nginx (static, gzip_static) against the feed service under gunicorn and
granian, on the same bytes, in one run. Every figure is printed as a ratio to nginx.

    .venv/bin/python benchmarks/serve.py                 # ~2 min on 2 cores
    .venv/bin/python benchmarks/serve.py --duration 5    # quicker, noisier

What it does:

1. Generates a realistic 50-entry Atom feed: distinct CJK articles written in the seed
   portal format (headline, date line, indented paragraphs and section headings, byline,
   来源/原文链接/版权声明/电话/邮箱, region, 推荐资讯), parsed with
   ``ingest.importers.scimall.parse`` and rendered with ``render.feeds.WRITERS["atom"]``.
   The text is a character-level Markov chain over the seed articles, with a share of
   characters drawn from the GB2312 level-1 set, so it compresses like real news text
   (about 2:1 with gzip) rather than like a repeated article.
2. Lays it out as the worker does: ``feeds/all.atom`` with ``.gz`` and ``.br`` siblings from
   ``render.compress.siblings``, written through ``LocalArtifactStore`` (siblings first).
3. For each server, on a free 127.0.0.1 port: ``wrk`` for 200s (``Accept-Encoding: gzip``)
   and for 304s (the same plus ``If-None-Match`` with the ETag that server sent).

Only loopback is ever contacted. Needs ``nginx`` and ``wrk`` on PATH (Debian packages).
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import cProfile
import gzip
import io
import itertools
import os
import pstats
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from _common import table

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "newsflow" / "demo" / "seed"
VENV_BIN = Path(sys.executable).parent
HOST = "127.0.0.1"
SHANGHAI = timezone(timedelta(hours=8))

# --------------------------------------------------------------------------------------
# Realistic articles from the seed articles
# --------------------------------------------------------------------------------------

SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏"
GIVEN = "伟芳娜秀敏静丽强磊军洋勇艳杰娟涛明超霞平刚桂英华玉萍红娥玲芬燕鹏辉斌宇浩凯健俊帆雪琳晨"
REGIONS = ["内蒙", "北京", "上海", "广东", "四川", "湖北", "浙江", "江苏", "山东", "陕西"]
ORGS = [
    "内蒙古自治区科学技术协会", "北京市科学技术协会", "上海市科学技术协会", "广东省科学技术协会",
    "四川省科学技术协会", "湖北省科学技术协会", "浙江省科学技术协会", "江苏省科学技术协会",
]  # fmt: skip
PORTAL = "科技工作者之家"
RIGHTS = (
    "除非特别注明,本站所载内容来源于互联网、微信公众号等公开渠道,不代表本站观点,仅供参考、"
    "交流、公益传播之目的。转载的稿件版权归原作者或机构所有,如有侵权,请联系删除。"
)
PUNCT = set("。,、;:“”《》()!?…—·「」『』（）：；！？,.")


def _gb2312_level1() -> str:
    chars = []
    for hi in range(0xB0, 0xD8):
        for lo in range(0xA1, 0xFF):
            with contextlib.suppress(UnicodeDecodeError):
                chars.append(bytes([hi, lo]).decode("gb2312"))
    return "".join(chars)


class ArticleMaker:
    """Distinct articles in the seed portal format, deterministic for a given seed."""

    def __init__(self, seed: int = 2017, noise: float = 0.85) -> None:
        texts = [p.read_text(encoding="utf-8") for p in sorted(SEED.glob("*.txt"))]
        paras = [
            line.strip()
            for text in texts
            for line in text.split("\n")
            if line.startswith("  ") and re.search(r"[\u4e00-\u9fff]", line)
        ]
        corpus = "".join(paras)
        self.chain: dict[str, list[str]] = collections.defaultdict(list)
        for a, b in itertools.pairwise(corpus):
            self.chain[a].append(b)
        self.starts = [c for c in self.chain if c not in PUNCT]
        self.common = _gb2312_level1()
        self.noise = noise
        self.seed = seed

    def _chars(self, rng: random.Random, n: int, punct: bool = True) -> str:
        out = [rng.choice(self.starts)]
        while len(out) < n:
            nxt = self.chain.get(out[-1]) or self.chain[rng.choice(self.starts)]
            c = rng.choice(nxt)
            if c in PUNCT:
                if not punct or out[-1] in PUNCT:
                    c = rng.choice(self.starts)
            elif rng.random() < self.noise:
                c = rng.choice(self.common)
            out.append(c)
        return "".join(out).rstrip("".join(PUNCT))

    def text(self, i: int, paragraphs: int | None = None) -> tuple[str, str]:
        """(file name, article in the seed export format) for article number ``i``."""
        rng = random.Random(self.seed * 1_000_003 + i)
        paragraphs = paragraphs or rng.choice((5, 6))
        day = datetime(2017, 12, 4) + timedelta(days=i // 24)
        region = rng.choice(REGIONS)
        org = rng.choice(ORGS)
        headline = self._chars(rng, rng.randint(12, 24), punct=False)
        link = f"http://www.kx{i % 97:02d}.org.cn/xwdt/kxyw/{day:%Y%m}/t{day:%Y%m%d}_{i}.html"
        lines = [headline, "", f"{PORTAL} {day:%Y-%m-%d}", ""]
        for p in range(paragraphs):
            if p and p % 3 == 0:
                lines += [f"  {self._chars(rng, rng.randint(8, 14), punct=False)}", ""]
            body = self._chars(rng, rng.randint(90, 200)) + "。"
            if p == paragraphs - 1:
                body += f"({rng.choice(SURNAMES)}{''.join(rng.sample(GIVEN, rng.randint(1, 2)))}"
            lines += [f"  {body}", ""]
        lines += [
            f"来源:{org}", "",
            f"原文链接:{link}", "",
            f"版权声明:{RIGHTS}", "",
            "电话:(010)86409582", "",
            "邮箱:kejie@scimall.org.cn", "",
            region, "",
            "推荐资讯", "",
        ]  # fmt: skip
        return f"bench-{i:07d}.txt", "\n".join(lines)

    def doc(self, i: int, when: datetime | None = None, paragraphs: int | None = None) -> dict:
        """A parsed article document; ``when`` (default: one per hour back from the seed day)
        becomes its firstCreated and versionCreated."""
        from ingest.importers.scimall import parse

        name, text = self.text(i, paragraphs)
        doc = parse(text, name).doc
        when = when or datetime(2017, 12, 4, tzinfo=SHANGHAI) + timedelta(minutes=37 * i)
        doc["firstCreated"] = doc["versionCreated"] = when.isoformat()
        return doc


def atom_feed(n: int = 50, base: str = "http://127.0.0.1:8002", maker: ArticleMaker | None = None):
    """The bytes of the ``all`` Atom feed with ``n`` generated articles, as the worker
    writes it (view.build per entry, one FeedView, the Atom writer)."""
    from render import view
    from render.feeds import WRITERS, FeedView

    maker = maker or ArticleMaker()
    entries = []
    for i in range(n):
        doc = maker.doc(i)
        first = datetime.fromisoformat(doc["firstCreated"])
        entries.append(view.build(f"{i:032x}", 1, doc, {}, first, base))
    entries.sort(key=lambda e: e.first_created, reverse=True)
    fv = FeedView(
        key="all",
        title="newsflow",
        description=f"newsflow: the newest {n} articles",
        language="zh-CN",
        home_url=f"{base}/",
        self_urls={fmt: view.feed_url(base, "all", fmt) for fmt in WRITERS},
        id_authority="newsflow.localhost,2026",
        site="newsflow",
        base=base,
        entries=entries,
        hub_url=f"{base}/hub",
    )
    return WRITERS["atom"](fv)


def write_artifacts(artifacts: Path, data: bytes) -> dict[str, int]:
    """feeds/all.atom with its siblings, as render.feedbuild._put_feeds writes them."""
    from render import compress
    from shared.artifacts import LocalArtifactStore

    store = LocalArtifactStore(artifacts)
    sizes = {"raw": len(data)}
    for suffix, packed in compress.siblings(data).items():
        store.put(f"feeds/all.atom.{suffix}", packed)
        sizes[suffix] = len(packed)
    store.put("feeds/all.atom", data)
    return sizes


# --------------------------------------------------------------------------------------
# Servers
# --------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def fetch(url: str, headers: dict[str, str]):
    """(status, headers (case-insensitive), body) without decoding Content-Encoding."""
    assert url.startswith(f"http://{HOST}:"), url
    req = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers, err.read()


def wait_up(url: str, proc: subprocess.Popen, log: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            fetch(url, {})
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout}s:\n{log.read_text()[-3000:]}")


# Servers are started in sessions of their own, so a stop reaches their worker processes too.
_GROUPS: set[int] = set()


def stop(proc: subprocess.Popen) -> None:
    group = proc.pid in _GROUPS

    def send(sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            if group:
                os.killpg(proc.pid, sig)
            else:
                proc.send_signal(sig)

    if proc.poll() is None:
        send(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            send(signal.SIGKILL)
            proc.wait()
    if group:
        send(signal.SIGKILL)  # any worker left behind by its master
        _GROUPS.discard(proc.pid)


NGINX_CONF = """\
worker_processes {workers};
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log warn;
{user}
events {{ worker_connections 1024; }}
http {{
    types {{
        application/atom+xml atom;
        application/rss+xml rss;
        application/feed+json json;
    }}
    default_type application/octet-stream;
    charset utf-8;
    charset_types application/atom+xml application/rss+xml application/feed+json;
    access_log {access_log};
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000;
    client_body_temp_path {tmp}/nginx-body;
    proxy_temp_path {tmp}/nginx-proxy;
    fastcgi_temp_path {tmp}/nginx-fastcgi;
    uwsgi_temp_path {tmp}/nginx-uwsgi;
    scgi_temp_path {tmp}/nginx-scgi;
    server {{
        listen {host}:{port};
        root {root};
        location /feeds/ {{
            gzip_static on;
            gzip_vary on;
            add_header Cache-Control "public, max-age=60";
            add_header X-Content-Type-Options nosniff;
        }}
    }}
}}
"""


@dataclass
class Server:
    name: str
    cmd: list[str]
    url: str
    env: dict[str, str] | None = None

    def start(self, tmp: Path) -> subprocess.Popen:
        log = tmp / f"{re.sub(r'[^a-z0-9]+', '-', self.name.lower())}.log"
        proc = subprocess.Popen(
            self.cmd,
            env=self.env,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            start_new_session=True,
        )
        _GROUPS.add(proc.pid)
        try:
            wait_up(self.url, proc, log)
        except BaseException:
            stop(proc)
            raise
        return proc


def nginx_server(tmp: Path, artifacts: Path, workers: int, access_log: bool) -> Server:
    port = free_port()
    conf = tmp / "nginx.conf"
    conf.write_text(
        NGINX_CONF.format(
            workers=workers,
            tmp=tmp,
            host=HOST,
            port=port,
            root=artifacts,
            user="user root;" if os.geteuid() == 0 else "",
            access_log=f"{tmp}/nginx-access.log" if access_log else "off",
        )
    )
    cmd = ["nginx", "-p", str(tmp), "-c", str(conf), "-e", str(tmp / "nginx-error.log"),
           "-g", "daemon off;"]  # fmt: skip
    return Server("nginx", cmd, f"http://{HOST}:{port}/feeds/all.atom")


def app_env(tmp: Path, redis_url: str) -> dict[str, str]:
    data = tmp / "data"
    return {
        **os.environ,
        "NEWSFLOW_DATA_DIR": str(data),
        "DATABASE_URL": f"sqlite:///{data / 'newsflow.db'}",
        "REDIS_URL": redis_url,
        "PYTHONPATH": str(ROOT / "benchmarks"),
    }


def gunicorn_server(env, workers: int, access_log: bool, app: str = "feed.wsgi:app") -> Server:
    port = free_port()
    cmd = [str(VENV_BIN / "python"), "-m", "gunicorn", "--workers", str(workers),
           "--no-control-socket", "--bind", f"{HOST}:{port}"]  # fmt: skip
    if access_log:
        cmd += ["--access-logfile", "-"]
    name = "gunicorn sync" + (" +access log" if access_log else "")
    if app != "feed.wsgi:app":
        name += f" [{app}]"
    return Server(name, [*cmd, app], f"http://{HOST}:{port}/feeds/all.atom", env)


def granian_server(
    env, workers: int, blocking: int | None, app: str = "feed.wsgi:app", http1: bool = False
) -> Server:
    port = free_port()
    cmd = [str(VENV_BIN / "granian"), "--interface", "wsgi", "--workers", str(workers),
           "--host", HOST, "--port", str(port), "--no-ws", "--log-level", "warning"]  # fmt: skip
    name = "granian wsgi"
    if blocking is not None:
        cmd += ["--blocking-threads", str(blocking)]
        name += f" bt={blocking}"
    if http1:
        cmd += ["--http", "1"]
        name += " http1"
    if app != "feed.wsgi:app":
        name += f" [{app}]"
    return Server(name, [*cmd, app], f"http://{HOST}:{port}/feeds/all.atom", env)


# The floor: a WSGI app that answers the same bytes with no work at all (no stat, no
# negotiation), so a server's own cost can be told from the fast path's.
_FLOOR: tuple[bytes, str] | None = None


def floor_app(environ, start_response):
    global _FLOOR
    if _FLOOR is None:
        art = Path(os.environ["NEWSFLOW_DATA_DIR"]) / "artifacts" / "feeds" / "all.atom.gz"
        _FLOOR = (art.read_bytes(), '"floor-gz"')
    body, etag = _FLOOR
    if environ.get("HTTP_IF_NONE_MATCH") == etag:
        start_response("304 Not Modified", [("ETag", etag)])
        return [b""]
    start_response(
        "200 OK",
        [("Content-Type", "application/atom+xml; charset=utf-8"), ("Content-Encoding", "gzip"),
         ("Content-Length", str(len(body))), ("ETag", etag)],
    )  # fmt: skip
    return [body]


def compare_app():
    """The feed app with another fastpath.py (BENCH_FASTPATH_FILE) in front, for before/after
    runs: ``--compare-fastpath OLD.py``."""
    import importlib.util

    from feed.app import create_app
    from shared.settings import Settings

    spec = importlib.util.spec_from_file_location(
        "fastpath_other", os.environ["BENCH_FASTPATH_FILE"]
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    app = create_app()
    ours = app.wsgi_app
    # The fast path of commit c672b0e and before took the artifacts directory; later ones
    # take the artifact cache (feed.artifacts).
    first = Settings.from_env().artifacts_dir if "root: Path" in Path(
        os.environ["BENCH_FASTPATH_FILE"]).read_text() else ours.artifacts  # fmt: skip
    app.wsgi_app = module.FeedFastPath(ours.app, first, max_age=ours.max_age, links=ours.links)
    return app


# --------------------------------------------------------------------------------------
# Load
# --------------------------------------------------------------------------------------


@dataclass
class Load:
    rps: float
    mbps: float
    p50_ms: float
    p99_ms: float
    errors: str


def _ms(value: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s)", value)
    if not m:
        return float("nan")
    return float(m[1]) * {"us": 0.001, "ms": 1, "s": 1000}[m[2]]


def wrk(url: str, headers: dict[str, str], seconds: float, conns: int, threads: int) -> Load:
    assert url.startswith(f"http://{HOST}:"), url
    cmd = ["wrk", "-t", str(threads), "-c", str(conns), "-d", f"{seconds:g}s", "--latency",
           "--timeout", "5s"]  # fmt: skip
    for k, v in headers.items():
        cmd += ["-H", f"{k}: {v}"]
    out = subprocess.run([*cmd, url], capture_output=True, text=True, timeout=seconds + 30).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1])
    tr = re.search(r"Transfer/sec:\s+([\d.]+)(\w+)", out)
    mbps = float(tr[1]) * {"B": 1e-6, "KB": 1e-3, "MB": 1, "GB": 1e3}[tr[2]] if tr else 0.0
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M)
    errors = []
    if m := re.search(r"Non-2xx or 3xx responses: (\d+)", out):
        errors.append(f"non-2xx/3xx {m[1]}")
    if m := re.search(r"Socket errors: (.*)", out):
        errors.append(m[1].strip())
    return Load(rps, mbps, _ms(p50[1]) if p50 else 0, _ms(p99[1]) if p99 else 0, "; ".join(errors))


def check_answers(url: str, raw: bytes) -> str:
    """Right bytes, gzip, and a 304 for the ETag served; returns that ETag."""
    status, headers, body = fetch(url, {"Accept-Encoding": "gzip"})
    if status != 200 or headers.get("Content-Encoding") != "gzip":
        raise RuntimeError(f"{url}: {status} {dict(headers)}")
    if gzip.decompress(body) != raw:
        raise RuntimeError(f"{url}: served bytes differ from the feed")
    etag = headers["ETag"]
    status, _, body = fetch(url, {"Accept-Encoding": "gzip", "If-None-Match": etag})
    if status != 304 or body:
        raise RuntimeError(f"{url}: If-None-Match {etag} gave {status}")
    return etag


# --------------------------------------------------------------------------------------
# In-process profile of the fast path
# --------------------------------------------------------------------------------------


def _cache(artifacts: Path):
    from feed.artifacts import ArtifactCache
    from shared.artifacts import LocalArtifactStore

    return ArtifactCache(LocalArtifactStore(artifacts))


def inprocess(artifacts: Path, n: int) -> dict[str, float]:
    """Microseconds per call of the fast path (200 and 304) and of the floor app."""
    from feed.fastpath import FeedFastPath

    def fallback(environ, start_response):
        raise AssertionError("fast path fell through")

    fp = FeedFastPath(fallback, _cache(artifacts), max_age=60, links=lambda p: f'<{p}>; rel="self"')

    def environ(**extra):
        return {"REQUEST_METHOD": "GET", "PATH_INFO": "/feeds/all.atom",
                "HTTP_ACCEPT_ENCODING": "gzip", **extra}  # fmt: skip

    sink = []

    def start_response(status, headers):
        sink.append(status)

    etag = None
    fp(environ(), lambda s, h: sink.append(dict(h)))
    etag = sink[-1]["ETag"]
    os.environ.setdefault("NEWSFLOW_DATA_DIR", str(artifacts.parent))
    cases = {
        "fast path 200": (fp, environ()),
        "fast path 304": (fp, environ(HTTP_IF_NONE_MATCH=etag)),
        "floor app 200": (floor_app, environ()),
    }
    result = {}
    for name, (app, env) in cases.items():
        for _ in range(200):
            app(dict(env), start_response)
        t0 = time.perf_counter()
        for _ in range(n):
            app(dict(env), start_response)
        result[name] = (time.perf_counter() - t0) / n * 1e6
        sink.clear()
    return result


def _other_fast_path(artifacts: Path, file: str, fallback):
    """The FeedFastPath of another fastpath.py; before the artifact cache (commit c672b0e
    and earlier) it took the artifacts directory."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("fastpath_other", file)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    first = artifacts if "root: Path" in Path(file).read_text() else _cache(artifacts)
    return module.FeedFastPath(fallback, first, max_age=60, links=lambda p: f'<{p}>; rel="self"')


def compare_inprocess(artifacts: Path, other: str, n: int, rounds: int) -> list[tuple]:
    """CPU µs per call of this fast path and another, 200 and 304, in alternating rounds (so
    the machine's load falls on both alike); the median and the best round of each."""
    from feed.fastpath import FeedFastPath

    def fallback(environ, start_response):
        raise AssertionError("fast path fell through")

    apps = {
        "this fastpath.py": FeedFastPath(
            fallback, _cache(artifacts), max_age=60, links=lambda p: f'<{p}>; rel="self"'
        ),
        f"{Path(other).name}": _other_fast_path(artifacts, other, fallback),
    }
    env = {"REQUEST_METHOD": "GET", "PATH_INFO": "/feeds/all.atom", "HTTP_ACCEPT_ENCODING": "gzip"}
    times: dict[tuple[str, str], list[float]] = collections.defaultdict(list)
    for _ in range(rounds):
        for name, app in apps.items():
            seen: list[dict] = []
            app(dict(env), lambda s, h, seen=seen: seen.append(dict(h)))
            cases = {"200": env, "304": {**env, "HTTP_IF_NONE_MATCH": seen[-1]["ETag"]}}
            for case, environ in cases.items():
                # CPU time of this process: the machine's other load, which takes the core
                # away now and then, does not count (it swamps a 4 µs difference otherwise).
                t0 = time.process_time()
                for _ in range(n):
                    app(dict(environ), lambda s, h: None)
                times[(name, case)].append((time.process_time() - t0) / n * 1e6)
    base = {case: statistics.median(times[(next(iter(apps)), case)]) for case in ("200", "304")}
    return [
        (name, case, f"{statistics.median(v):.2f}", f"{min(v):.2f}",
         f"{statistics.median(v) / base[case]:.2f}")
        for (name, case), v in times.items()
    ]  # fmt: skip


def profile_fastpath(artifacts: Path, n: int = 20000) -> str:
    from feed.fastpath import FeedFastPath

    fp = FeedFastPath(lambda e, s: [], _cache(artifacts), max_age=60, links=lambda p: p)
    env = {"REQUEST_METHOD": "GET", "PATH_INFO": "/feeds/all.atom", "HTTP_ACCEPT_ENCODING": "gzip"}
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(n):
        fp(dict(env), lambda s, h: None)
    prof.disable()
    buf = io.StringIO()
    pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(12)
    return buf.getvalue()


# --------------------------------------------------------------------------------------


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--duration", type=float, default=8, help="seconds per wrk run (default 8)")
    ap.add_argument("--repeat", type=int, default=1, help="runs per case; the median is shown")
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--wrk-threads", type=int, default=1)
    ap.add_argument("--workers", type=int, default=2, help="server worker processes (default 2)")
    ap.add_argument("--entries", type=int, default=50)
    ap.add_argument("--only", default="", help="comma-separated name substrings to run")
    ap.add_argument("--floor", action="store_true", help="also run the no-work floor app")
    ap.add_argument(
        "--compare-fastpath",
        metavar="FILE",
        help="also run gunicorn and granian bt=1 with this fastpath.py (e.g. the previous one)",
    )
    ap.add_argument("--profile", action="store_true", help="print a cProfile of the fast path")
    ap.add_argument(
        "--inprocess-only",
        action="store_true",
        help="only the in-process µs per call, against --compare-fastpath (no nginx, no wrk)",
    )
    ap.add_argument("--keep", action="store_true", help="keep the temp dir")
    args = ap.parse_args()

    if args.inprocess_only:
        if not args.compare_fastpath:
            ap.error("--inprocess-only compares with --compare-fastpath FILE")
        with tempfile.TemporaryDirectory(prefix="newsflow-serve-") as tmp:
            artifacts = Path(tmp) / "artifacts"
            write_artifacts(artifacts, atom_feed(args.entries))
            rows = compare_inprocess(artifacts, args.compare_fastpath, 30000, 2 * args.repeat + 1)
        print("in-process, CPU time of one call of the fast path (baseline: this fastpath.py)")
        print(table(rows, ("fast path", "answer", "µs/call median", "best", "× this")))
        return 0

    for tool in ("nginx", "wrk"):
        if not shutil.which(tool):
            print(f"{tool} not on PATH: apt-get install -y nginx wrk", file=sys.stderr)
            return 2

    from newsflow import redis_server
    from shared import migrate

    tmp = Path(tempfile.mkdtemp(prefix="newsflow-serve-"))
    procs: list[subprocess.Popen] = []
    try:
        artifacts = tmp / "data" / "artifacts"
        t0 = time.perf_counter()
        raw = atom_feed(args.entries)
        sizes = write_artifacts(artifacts, raw)
        for d in (tmp, tmp / "data", artifacts, artifacts / "feeds"):
            d.chmod(0o755)  # nginx workers may run as another user
        print(
            f"feed: {args.entries} entries, all.atom {sizes['raw'] / 1024:.1f} KiB, "
            f".gz {sizes['gz'] / 1024:.1f} KiB ({sizes['gz'] / sizes['raw']:.2f}), "
            f".br {sizes['br'] / 1024:.1f} KiB ({sizes['br'] / sizes['raw']:.2f}); "
            f"made in {time.perf_counter() - t0:.1f}s; {tmp}"
        )
        redis_proc, redis_url = redis_server.start(tmp / "redis", port=free_port(), persist=False)
        procs.append(redis_proc)
        env = app_env(tmp, redis_url)
        migrate.upgrade(env["DATABASE_URL"])

        us = inprocess(artifacts, 20000)
        base = us["floor app 200"]
        print("\nin-process, one call (baseline: floor app 200 = a WSGI app returning the bytes)")
        print(table([(k, f"{v:.1f}", f"{v / base:.2f}") for k, v in us.items()],
                    ("case", "µs/call", "× floor")))  # fmt: skip
        if args.profile:
            print(profile_fastpath(artifacts))

        w = args.workers
        servers = [
            nginx_server(tmp, artifacts, w, access_log=False),
            gunicorn_server(env, w, access_log=True),
            gunicorn_server(env, w, access_log=False),
            granian_server(env, w, None),
            granian_server(env, w, 1),
            granian_server(env, w, 2),
            granian_server(env, w, 1, http1=True),
        ]
        if args.floor:
            servers += [
                gunicorn_server(env, w, access_log=False, app="serve:floor_app"),
                granian_server(env, w, 1, app="serve:floor_app"),
            ]
        if args.compare_fastpath:
            other = {**env, "BENCH_FASTPATH_FILE": str(Path(args.compare_fastpath).resolve())}
            for srv in (
                gunicorn_server(other, w, access_log=False, app="serve:compare_app()"),
                granian_server(other, w, 1, app="serve:compare_app"),
            ):
                srv.name = re.sub(r"serve:compare_app(\(\))?", "other fastpath", srv.name)
                if "granian" in srv.name:
                    srv.cmd.insert(-1, "--factory")
                servers.append(srv)
        if args.only:
            keep = [s.strip() for s in args.only.split(",")]
            servers = [s for s in servers if s.name == "nginx" or any(k in s.name for k in keep)]

        results: dict[str, tuple[Load, Load]] = {}
        for server in servers:
            proc = server.start(tmp)
            procs.append(proc)
            try:
                floor = "floor" in server.name
                etag = '"floor-gz"' if floor else check_answers(server.url, raw)
                time.sleep(0.5)
                hdr = {"Accept-Encoding": "gzip"}
                runs = []
                for _ in range(args.repeat):
                    ok = wrk(server.url, hdr, args.duration, args.connections, args.wrk_threads)
                    nm = wrk(server.url, {**hdr, "If-None-Match": etag}, args.duration,
                             args.connections, args.wrk_threads)  # fmt: skip
                    runs.append((ok, nm))
                # the median run of each kind
                ok = sorted((r[0] for r in runs), key=lambda x: x.rps)[len(runs) // 2]
                nm = sorted((r[1] for r in runs), key=lambda x: x.rps)[len(runs) // 2]
                results[server.name] = (ok, nm)
                print(f"  {server.name}: 200 {ok.rps:,.0f}/s, 304 {nm.rps:,.0f}/s "
                      f"{ok.errors} {nm.errors}".rstrip(), flush=True)  # fmt: skip
            finally:
                stop(proc)
                procs.remove(proc)

        ng200, ng304 = (r.rps for r in results["nginx"])
        rows = []
        for name, (ok, nm) in results.items():
            rows.append((
                name, f"{ok.rps:,.0f}", f"{ok.rps / ng200:.2f}", f"{ok.p99_ms:.1f}",
                f"{nm.rps:,.0f}", f"{nm.rps / ng304:.2f}", f"{nm.rps / ng200:.2f}",
                f"{nm.p99_ms:.1f}",
            ))  # fmt: skip
        print(
            f"\nwrk -t{args.wrk_threads} -c{args.connections} -d{args.duration:g}s on 127.0.0.1 "
            f"(median of {args.repeat}), "
            f"{w} workers each, {os.cpu_count()} cores shared with wrk; "
            f"baseline: nginx (gzip_static) = 1.00"
        )
        print(table(rows, ("server", "200/s", "200 × nginx", "200 p99 ms", "304/s",
                           "304 × nginx 304", "304 × nginx 200", "304 p99 ms")))  # fmt: skip
        print("\ntargets: 200s ≥ 0.40 × nginx; 304s ≥ 1.00 × nginx's 200 rate")
        for name, (ok, nm) in results.items():
            if name == "nginx":
                continue
            a, b = ok.rps / ng200, nm.rps / ng200
            print(f"  {name}: 200 {a:.2f} {'met' if a >= 0.4 else 'MISSED'}, "
                  f"304 {b:.2f} {'met' if b >= 1.0 else 'MISSED'}")  # fmt: skip
        print("\ncommands:")
        for s in servers:
            print(f"  {s.name}: {' '.join(s.cmd)}")
        print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    finally:
        for proc in reversed(procs):
            with contextlib.suppress(Exception):
                stop(proc)
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
