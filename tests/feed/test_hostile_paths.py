"""Every route of the feed service, walked with hostile path segments, query strings and
methods over real HTTP (granian): each answer is a 4xx JSON error, or a 2xx for real content,
never a 500 and never another name's page."""

from __future__ import annotations

import http.client
import json
import re
import socket
from urllib.parse import quote, urlsplit

import pytest

from feed.app import create_app
from shared import keys
from shared.artifacts import LocalArtifactStore

# As sent on the wire (already percent-encoded where a raw byte could not be sent).
SEGMENTS = {
    "over-long": "a" * 300,
    "very-long": "a" * 3000,
    "cjk-300-bytes": quote("区" * 100),
    "dot-dot": "..",
    "encoded-dot-dot": "%2e%2e",
    "nul": "%00",
    "lone-surrogate": "%ED%A0%80",
    "invalid-utf8": "%FF",
    "temp-file": ".tmp-x",
    "encoded-slashes": "..%2F..%2Fnewsflow.db",
    "line-break": "a%0D%0Ab",
}
QUERIES = {
    "invalid-utf8": "a=%FF%FE",
    "nul": "%00=%00",
    "long": "x=" + "b" * 3000,
    "many": "&".join(f"k{i}=v" for i in range(500)),
    "bare": "&&&=&==",
}
HEADERS = {
    "if-modified-since-garbage": {"If-Modified-Since": "Sun, 99 Foo 99999 99:99:99 GMT"},
    "if-modified-since-huge-year": {"If-Modified-Since": "Mon, 01 Jan 999999999 00:00:00 GMT"},
    "if-none-match-huge": {"If-None-Match": ", ".join(f'"{i}"' for i in range(2000))},
    "accept-encoding-garbage": {"Accept-Encoding": "br;q=nan, gzip;q=-1, *;q=1e999, ;;,"},
    "range-garbage": {"Range": "bytes=99999999999999999999-1, -"},
    "host-garbage": {"Host": "\u00ff\u00fe<script>:99999"},
    "content-type-garbage": {"Content-Type": "/; boundary=" + "x" * 3000},
}
ARG = re.compile(r"<(?:(\w+)(?:\(([^)]*)\))?:)?(\w+)>")
READ_METHODS = {"GET", "HEAD", "OPTIONS"}
WRITE_METHODS = ("POST", "PUT", "DELETE", "PATCH")


@pytest.fixture(autouse=True)
def published_tree(stack):
    """A page and a feed of every kind on disk, as the worker writes them: a hostile name
    must meet existing directories (a missing parent hides a too-long name's ENAMETOOLONG)."""
    store = LocalArtifactStore(stack.settings.artifacts_dir)
    for kind in keys.FEED_KINDS:
        store.put(keys.channel_page_artifact(f"{kind}/x"), b"<p>x</p>")
        store.put(keys.feed_artifact(f"{kind}/x", "rss"), b"<rss/>")
        store.put(keys.feed_artifact(keys.archive_feed(f"{kind}/x", 1), "rss"), b"<rss/>")
    store.put(keys.feed_artifact(keys.FEED_ALL, "rss"), b"<rss/>")
    store.put(f"media/{'a' * 64}/w640.jpg", b"\xff\xd8\xff")
    store.put(keys.page_artifact("a" * 32), b"<p>article</p>")


def routes(stack) -> list:
    app = create_app(stack.settings, sender=lambda name, args: None)
    return [rule for rule in app.url_map.iter_rules() if rule.endpoint != "static"]


def path_for(rule, segment: str) -> str:
    def fill(match: re.Match) -> str:
        converter, args = match.group(1), match.group(2)
        if converter == "any":
            return args.split(",")[0].strip()
        if converter == "path":
            return f"region/{segment}.rss"
        return segment

    return ARG.sub(fill, rule.rule)


def send(base: str, method: str, path: str, body: bytes | None = None, headers=None):
    url = urlsplit(base)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def problem(status: int, headers: dict, body: bytes) -> str | None:
    """What is wrong with an answer to hostile input, or None (headers: lower-case names)."""
    if status >= 500:
        return f"{status}: {body[:200]!r}"
    if 200 <= status < 400:
        return None
    if not headers.get("content-type", "").startswith("application/json"):
        return f"{status} with {headers.get('content-type')}: {body[:200]!r}"
    try:
        data = json.loads(body)
    except ValueError:
        return f"{status} with a body that is not JSON: {body[:200]!r}"
    if set(data) != {"error", "detail", "field"}:
        return f"{status} with keys {sorted(data)}"
    return None


def hub_form(segment: str, base: str) -> bytes:
    topic = f"{base}/feeds/region/{segment}.atom"
    fields = {"hub.mode": "subscribe", "hub.topic": topic, "hub.callback": topic}
    return "&".join(f"{k}={quote(v, safe='%')}" for k, v in fields.items()).encode()


def walk(stack, segment: str, query: str = "", extra: dict | None = None) -> list[str]:
    failures = []
    base = stack.settings.public_base_url
    for rule in routes(stack):
        path = path_for(rule, segment) + (f"?{query}" if query else "")
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            body, headers = None, {}
            if method == "POST":
                body = hub_form(segment, base)
                headers = {"Content-Type": "application/x-www-form-urlencoded"}
            headers = {**headers, **(extra or {})}
            status, got, data = send(stack.feed, method, path, body, headers)
            wrong = problem(status, got, data)
            if wrong:
                failures.append(f"{method} {path[:120]}: {wrong}")
    return failures


@pytest.mark.parametrize("segment", list(SEGMENTS.values()), ids=list(SEGMENTS))
def test_every_route_answers_a_hostile_segment_with_a_4xx_json_error(stack, segment):
    assert walk(stack, segment) == []


@pytest.mark.parametrize("query", list(QUERIES.values()), ids=list(QUERIES))
def test_every_route_answers_a_hostile_query_string_without_a_500(stack, query):
    assert walk(stack, "x", query) == []


@pytest.mark.parametrize("headers", list(HEADERS.values()), ids=list(HEADERS))
def test_every_route_answers_hostile_headers_without_a_500(stack, headers):
    assert walk(stack, "x", extra=headers) == []


def test_a_control_character_in_a_header_is_granians_plain_400(stack):
    # granian refuses it in its Rust HTTP layer before any Python runs: no JSON is possible
    # there, but neither is an HTML page (docs/operations.md, Requests the servers refuse).
    status, headers, body = send(stack.feed, "GET", "/feeds/all.rss", None, {"X-A": "\x01"})
    assert status == 400 and body == b"" and "html" not in headers.get("content-type", "")


@pytest.mark.parametrize(
    "path",
    [
        "/feeds/region/..%2F..%2Fall.rss",
        "/feeds/all/archive/.index.json",
        "/feeds/region/.tmp-abc.rss",
        "/feeds/%ED%A0%80.rss",
        "/feeds/all/archive/" + "9" * 300 + ".rss",
        "/feeds/region/" + "a" * 3000 + ".atom",
    ],
)
def test_odd_feed_paths_are_json_404s(stack, path):
    status, _, body = send(stack.feed, "GET", path)
    assert status == 404 and json.loads(body)["error"] == "not_found"


def test_every_read_only_route_answers_write_methods_with_405_and_allow(stack):
    failures = []
    for rule in routes(stack):
        if not (rule.methods or set()) <= READ_METHODS:
            continue
        path = path_for(rule, "x")
        for method in WRITE_METHODS:
            status, headers, body = send(stack.feed, method, path, b"{}")
            allow = {m.strip() for m in headers.get("allow", "").split(",")}
            if status != 405 or "GET" not in allow or problem(400, headers, body):
                failures.append(f"{method} {path}: {status} Allow={headers.get('allow')}")
    assert failures == []


def test_writing_to_a_published_feed_is_405_not_the_feed(stack):
    store = LocalArtifactStore(stack.settings.artifacts_dir)
    store.put(keys.feed_artifact("region/写入测试", "rss"), b"<rss/>")
    path = keys.feed_path("region/写入测试", "rss")
    assert send(stack.feed, "GET", path)[0] == 200
    status, headers, _ = send(stack.feed, "POST", path, b"x")
    assert status == 405 and "GET" in headers["allow"]


def test_encoded_dot_dot_is_not_the_page_of_the_dash_region(stack):
    # feed_name("..") is "-": cleaning a request path the same way made /region/%2e%2e serve
    # the page of the region named "-".
    store = LocalArtifactStore(stack.settings.artifacts_dir)
    store.put(keys.channel_page_artifact("region/-"), b"<p>the dash region</p>")
    assert send(stack.feed, "GET", "/region/-")[0] == 200
    status, _, body = send(stack.feed, "GET", "/region/%2e%2e")
    assert status == 404 and b"dash" not in body


def test_a_padded_name_is_not_the_page_of_the_trimmed_name(stack):
    store = LocalArtifactStore(stack.settings.artifacts_dir)
    store.put(keys.channel_page_artifact("region/留白"), b"<p>trimmed</p>")
    assert send(stack.feed, "GET", keys.channel_path("region/留白"))[0] == 200
    assert send(stack.feed, "GET", "/region/%20" + quote("留白"))[0] == 404


def test_a_hub_body_over_the_limit_is_a_413(stack):
    body = b"hub.mode=subscribe&hub.topic=" + b"a" * 20_000
    status, headers, data = send(
        stack.feed, "POST", "/hub", body, {"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert status == 413 and problem(status, headers, data) is None


def test_a_chunked_hub_body_over_the_limit_is_a_413_not_a_cut_form(stack):
    body = b"hub.mode=subscribe&hub.topic=" + b"a" * 20_000
    request = (
        b"POST /hub HTTP/1.1\r\nHost: feed\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        + b"%x\r\n%s\r\n0\r\n\r\n"
        % (len(body), body)
    )
    url = urlsplit(stack.feed)
    with socket.create_connection((url.hostname, url.port), timeout=30) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, data = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413") and json.loads(data)["error"] == "too_large"
