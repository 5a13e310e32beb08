"""Every route of the ingest API over real HTTP (gunicorn), walked with hostile path segments,
query strings, headers and methods: each answer is a 4xx JSON error (or a 2xx for what is
really there), never a 500 and never an HTML page."""

from __future__ import annotations

import re

import pytest

from ingest.app import create_app
from tests.feed.test_hostile_paths import QUERIES, SEGMENTS, problem, send

ARG = re.compile(r"<(?:\w+:)?\w+>")
HEADERS = {
    "content-type-garbage": {"Content-Type": "\x7f/\x01; charset=klingon"},
    "content-type-huge-charset": {"Content-Type": "application/json; charset=" + "x" * 3000},
    "json-in-latin-1": {"Content-Type": "application/json; charset=latin-1"},
    "gzip-body": {"Content-Type": "application/json", "Content-Encoding": "gzip"},
    "host-garbage": {"Host": "\u00ff\u00fe<script>:99999"},
    "accept-garbage": {"Accept": "*/*;q=nan, \x01"},
    "expect-garbage": {"Expect": "200-ok"},
}
BODY = b'{"headlines": "\xff"}'


def routes(stack) -> list:
    app = create_app(stack.settings)
    return [rule for rule in app.url_map.iter_rules() if rule.endpoint != "static"]


def walk(stack, segment: str = "x", query: str = "", headers=None) -> list[str]:
    failures = []
    for rule in routes(stack):
        path = ARG.sub(segment, rule.rule) + (f"?{query}" if query else "")
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            sent = {"Content-Type": "application/json", **(headers or {})}
            status, got, data = send(stack.ingest, method, path, BODY, sent)
            wrong = problem(status, got, data)
            if wrong:
                failures.append(f"{method} {path[:120]} {headers}: {wrong}")
    return failures


@pytest.mark.parametrize("segment", list(SEGMENTS.values()), ids=list(SEGMENTS))
def test_every_route_answers_a_hostile_segment_with_a_4xx_json_error(stack, segment):
    assert walk(stack, segment=segment) == []


@pytest.mark.parametrize("query", list(QUERIES.values()), ids=list(QUERIES))
def test_every_route_answers_a_hostile_query_string_without_a_500(stack, query):
    assert walk(stack, query=query) == []


@pytest.mark.parametrize("headers", list(HEADERS.values()), ids=list(HEADERS))
def test_every_route_answers_hostile_headers_without_a_500(stack, headers):
    assert walk(stack, headers=headers) == []


def test_every_route_answers_an_unknown_method_with_405_and_allow(stack):
    failures = []
    rules = routes(stack)
    for rule in rules:
        path = ARG.sub("x", rule.rule)
        # The methods some rule answers at this path (DELETE /v1/articles/<id> withdraws).
        taken = set().union(*(r.methods for r in rules if r.rule == rule.rule))
        for method in ("PUT", "DELETE", "PATCH"):
            if method in taken:
                continue
            status, headers, body = send(stack.ingest, method, path, b"{}")
            if status != 405 or not headers.get("allow") or problem(status, headers, body):
                failures.append(f"{method} {path}: {status} Allow={headers.get('allow')}")
    assert failures == []
