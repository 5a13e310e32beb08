"""Hostile articles through the real pipeline, read back in a real browser (hypothesis).

Each generated article (tests/strategies.py: hostile values in one or two fields of the
schema, valid but tricky values everywhere else) is posted to the real ingest and is either

- refused with a 4xx JSON error ``{"error", "detail", "field"}`` whose ``field`` names a field
  that held a hostile value, with nothing stored; or
- accepted, and then published (a picture that cannot be had is recorded on the article, which
  publishes without it; ``failed`` is a finding), withdrawn (``pubStatus`` withheld/canceled) or
  held (an embargo in the future). A published page loads in headless Chromium with no dialog,
  no script error, no request to a host off 127.0.0.1, only http/https/mailto links (clicked
  one by one, in case one runs script), and its headline shown as text, verbatim. Every feed
  the page advertises is valid (feedparser ``bozo`` 0; JSON Feed against the 1.1 schema) and
  lists the article, and after a normal article is posted the three ``all`` feeds are valid
  and list that one.

For every leaf of the schema in turn (44 today; tests/strategies.py walks the model, so a new
field is covered without a change here), the well-known attacks for its kind are posted first
(script URLs, a date past 9999 in UTC, a name past 255 bytes), then drawn articles with it
hostile until one is accepted (``HOSTILE_ATTEMPTS_PER_FIELD``, default 4): a refusal costs a
request, an acceptance a publication and a browser visit. An accepted article is withdrawn
after its checks, so an article that broke a feed is not blamed for the next one's findings.
Every example runs to the end and its findings are collected; the test fails once, listing
each finding with the example's hostile fields (``-s`` also prints every example and its
outcome). Hypothesis' shrinking is off (each step is a real publication, and the hot fields
already say where the fault is); each field's examples are seeded by its name and no example
database is used, so CI and a laptop post the same articles. ``HOSTILE_FIELDS=uri,by`` runs
only those fields: a quick look after a fix.

SQLite only: the properties are about the door (validation) and the outputs (pages, feeds),
which are the same code on both stores, and a run on both doubles the time (about two
minutes each on a quiet 2-core machine). A comparison run of the same 80 examples on both
stores found the same 20 findings, no more.
"""

from __future__ import annotations

import json
import os
import re
import time
import uuid
import zlib
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime

import feedparser
import jsonschema
import pytest
import requests
import sqlalchemy as sa
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

from shared.schema import UNFIT, ArticleIn
from tests.browser import Browser, PageReport, is_loopback
from tests.conftest import FIXTURES
from tests.strategies import Case, Env, articles, leaf_paths

pytestmark = pytest.mark.e2e

LEAVES = [leaf.path for leaf in leaf_paths(ArticleIn)]
ATTEMPTS = int(os.environ.get("HOSTILE_ATTEMPTS_PER_FIELD", "4"))
ERROR_KEYS = {"error", "detail", "field"}
ALL_FEEDS = ("/feeds/all.atom", "/feeds/all.rss", "/feeds/all.json")
WAIT = 30.0  # seconds an article or a feed may take on a loaded 2-core machine
JSON_FEED = jsonschema.Draft7Validator(
    json.loads((FIXTURES / "jsonfeed" / "schema-v1.1.json").read_text()),
    format_checker=jsonschema.FormatChecker(),
)


@dataclass
class Finding:
    example: int
    hot: str
    outcome: str
    problem: str

    def __str__(self) -> str:
        return f"#{self.example} [{self.outcome}] {self.problem}\n      hostile: {self.hot}"


# --- the pieces of one example ---------------------------------------------------------------


def post(stack, doc: dict) -> requests.Response:
    # Raw bytes: json.dumps writes a lone surrogate as the escape "\ud800", as a client would.
    data = json.dumps(doc, ensure_ascii=True).encode("ascii")
    return requests.post(
        f"{stack.ingest}/v1/articles",
        data=data,
        headers={"Content-Type": "application/json", **stack.auth},
        timeout=60,
    )


def stored_rows(stack) -> tuple[int, int]:
    with stack.engine.connect() as conn:
        articles_count = conn.execute(sa.text("SELECT count(*) FROM articles")).scalar()
        outbox = conn.execute(sa.text("SELECT count(*) FROM outbox")).scalar()
    return articles_count, outbox


def names_a_hot_field(field: str, case: Case) -> bool:
    """The error's field is a hostile value's path, inside it or around it. A path holding
    a hostile dict key is named with that key's unfit characters as U+FFFD (the door never
    echoes them), so it is compared that way."""
    paths = {UNFIT.sub("\ufffd", path) for path in case.hot}
    return any(
        field == path or field.startswith(f"{path}.") or path.startswith(f"{field}.")
        for path in paths
    )


def check_refusal(resp: requests.Response, case: Case, before, after) -> list[str]:
    problems = []
    try:
        body = resp.json()
    except ValueError:
        return [f"{resp.status_code} is not JSON: {resp.text[:200]!r}"]
    if not isinstance(body, dict) or set(body) != ERROR_KEYS:
        return [f"{resp.status_code} body is not {{error, detail, field}}: {body!r:.300}"]
    field = body["field"]
    if field is None and resp.status_code != 413:
        problems.append(f"{resp.status_code} {body['error']} names no field: {body['detail']!r}")
    elif field is not None and not names_a_hot_field(field, case):
        problems.append(
            f"{resp.status_code} {body['error']} names {field!r}, which held no hostile value: "
            f"{body['detail']!r:.300}"
        )
    if after != before:
        problems.append(f"refused, yet (articles, outbox rows) went from {before} to {after}")
    return problems


def embargoed(doc: dict) -> bool:
    until = doc.get("embargoedUntil")
    return until is not None and datetime.fromisoformat(until) > datetime.now(UTC)


def wait_settled(stack, article_id: str) -> dict:
    """The status once the pipeline is done with the article (or as it is after WAIT)."""
    deadline = time.monotonic() + WAIT
    while True:
        info = stack.status(article_id)
        done = info["status"] in ("published", "failed", "withdrawn")
        if done or time.monotonic() > deadline:
            return info
        if info["status"] == "embargoed" and embargoed(info["article"]):
            return info
        time.sleep(0.1)


def check_status(info: dict) -> list[str]:
    doc = info["article"]
    if doc.get("pubStatus", "usable") != "usable":
        want = "withdrawn"
    elif embargoed(doc):
        want = "embargoed"  # held by the worker until the scheduler releases it
    else:
        want = "published"
    if info["status"] == want:
        return []
    reason = f" ({info['reason']})" if info.get("reason") else ""
    return [f"status {info['status']}{reason}, expected {want} after {WAIT:g}s"]


def main_headline(doc: dict) -> str:
    return (
        next((h["value"] for h in doc["headlines"] if h.get("role") == "main"), None)
        or doc["headlines"][0]["value"]
    )


def check_page(report: PageReport, doc: dict) -> list[str]:
    problems = report.problems()
    if report.status == 200 and report.h1 != main_headline(doc):
        problems.append(f"the headline is not shown verbatim: h1 is {report.h1!r:.200}")
    return problems


def feed_problems(stack, url: str, article_id: str, deadline: float) -> list[str]:
    """The feed at ``url`` lists ``article_id`` (by ``deadline``: rebuilds are asynchronous)
    and is valid in its format."""
    if not is_loopback(url):
        return [f"the page advertises a feed off this machine: {url!r}"]
    while True:
        resp = requests.get(url, timeout=10)
        if resp.status_code == 200 and article_id.encode() in resp.content:
            break
        if time.monotonic() > deadline:
            return [f"{url:.150} answered {resp.status_code} and did not list the article in time"]
        time.sleep(0.2)
    if url.endswith(".json"):
        try:
            errors = [e.message for e in JSON_FEED.iter_errors(json.loads(resp.content))]
        except ValueError as exc:
            errors = [f"not JSON: {exc}"]
        return [f"{url:.150} is not a valid JSON Feed: {errors[:3]}"] if errors else []
    parsed = feedparser.parse(resp.content)
    if parsed.bozo:
        return [f"{url:.150} is not well-formed: {parsed.get('bozo_exception')!r:.300}"]
    return []


def post_normal(stack) -> str:
    doc = {
        "source": "prop-normal",  # one of the suite key's sources (tests/conftest.py)
        "guid": f"normal-{uuid.uuid4().hex}",
        "language": "zh-CN",
        "versionCreated": datetime.now(UTC).isoformat(),
        "headlines": [{"value": "正常的文章"}],
        "bodies": [{"value": "<p>正文。</p>"}],
    }
    resp = stack.post(doc)
    assert resp.status_code == 202, resp.text
    return resp.json()["id"]


def check_feeds_after(stack, page: PageReport | None, article_id: str | None) -> list[str]:
    """The example's own feeds list it; a normal article posted after it reaches all three
    ``all`` feeds, and every one of them is valid. All within WAIT (one deadline for the
    example, so a broken feed costs WAIT once, not once per feed)."""
    deadline = time.monotonic() + WAIT
    problems = []
    for url in page.alternates if page else []:
        if not any(url.endswith(path) for path in ALL_FEEDS):
            problems += feed_problems(stack, url, article_id, deadline)
    normal = post_normal(stack)
    deadline = max(deadline, time.monotonic() + WAIT / 2)
    after = []
    for path in ALL_FEEDS:
        after += feed_problems(stack, stack.feed + path, normal, deadline)
    return problems + [f"a normal article posted after it: {p}" for p in after]


def run_example(stack, browser: Browser, case: Case) -> tuple[str, list[str]]:
    """Post one case and check every property; returns the outcome and the problems found."""
    before = stored_rows(stack)
    resp = post(stack, case.doc)
    if resp.status_code >= 500:
        return f"{resp.status_code}", [f"server error: {resp.text[:300]!r}"]
    if 400 <= resp.status_code < 500:
        return "refused", check_refusal(resp, case, before, stored_rows(stack))
    if resp.status_code != 202:
        return f"{resp.status_code}", [f"unexpected answer {resp.status_code}: {resp.text[:300]}"]
    article_id = resp.json()["id"]
    info = wait_settled(stack, article_id)
    problems = check_status(info)
    page = None
    if info["status"] == "published":
        page = browser.visit(f"{stack.feed}/articles/{article_id}")
        problems += check_page(page, info["article"])
    problems += check_feeds_after(stack, page, article_id)
    problems += withdraw(stack, case.doc, article_id)
    return info["status"], problems


def withdraw(stack, doc: dict, article_id: str) -> list[str]:
    """Take the example down again (ninjs pubStatus canceled), so an article that broke a
    feed is not blamed again for the next example's findings."""
    resp = post(stack, {**doc, "pubStatus": "canceled"})
    if resp.status_code not in (200, 202):
        return [f"withdrawing it answered {resp.status_code}: {resp.text[:200]!r}"]
    deadline = time.monotonic() + WAIT
    # The worker has taken it out of its feeds once no version of it is published.
    while (info := stack.status(article_id))["status"] != "withdrawn" or info["publishedVersion"]:
        if time.monotonic() > deadline:
            return [f"withdrawing it did not finish within {WAIT:g}s"]
        time.sleep(0.1)
    return []


def picture_uris(stack, httpserver) -> list[str]:
    """Where valid pictures live: an upload, and the local partner server's good, missing and
    not-an-image files (anything else it is asked for is a 404, never a 500 that the worker
    would retry for minutes)."""
    image = (FIXTURES / "images" / "chelsea.jpg").read_bytes()
    upload = requests.post(
        f"{stack.ingest}/v1/media",
        data=image,
        headers={"Content-Type": "application/octet-stream", **stack.auth},
        timeout=30,
    )
    assert upload.status_code == 201, upload.text
    httpserver.expect_request("/photo.jpg").respond_with_data(image, content_type="image/jpeg")
    httpserver.expect_request("/page.jpg").respond_with_data(
        b"<html>not an image</html>", content_type="image/jpeg"
    )
    httpserver.expect_request(re.compile("^/.*$")).respond_with_data(b"not found", status=404)
    return [
        upload.json()["uri"],
        httpserver.url_for("/photo.jpg"),
        httpserver.url_for("/page.jpg"),
        httpserver.url_for("/missing.jpg"),
    ]


# --- the tests -------------------------------------------------------------------------------


def schema_leaves(schema: dict, node: dict | None = None, path: str = "") -> set[str]:
    """Every leaf of the published JSON Schema, named the way tests/strategies.py names them:
    an independent reading of the schema, to check the strategy's own walk against."""
    node = schema if node is None else node
    if "$ref" in node:
        node = schema["$defs"][node["$ref"].rsplit("/", 1)[1]]
    if "anyOf" in node:
        options = [o for o in node["anyOf"] if o.get("type") != "null"]
        return set().union(*(schema_leaves(schema, o, path) for o in options))
    if "properties" in node:
        prefix = f"{path}." if path else ""
        return set().union(
            *(schema_leaves(schema, sub, prefix + name) for name, sub in node["properties"].items())
        )
    if node.get("type") == "array":
        return schema_leaves(schema, node["items"], f"{path}[]")
    values = node.get("additionalProperties") or next(
        iter(node.get("patternProperties", {}).values()), None
    )
    if node.get("type") == "object" and isinstance(values, dict):
        return {f"{path}{{key}}"} | schema_leaves(schema, values, f"{path}{{}}")
    return {path}


def test_the_strategy_walks_every_field_of_the_schema():
    """The strategy's walk of the pydantic model finds the same leaves as the JSON Schema."""
    assert set(LEAVES) == schema_leaves(ArticleIn.model_json_schema())


@pytest.mark.parametrize("leaf", LEAVES)
def test_the_strategy_puts_hostile_values_in_each_field(leaf):
    env = Env("x", ["urn:newsflow:media:sha256:" + "0" * 64])

    @settings(max_examples=5, derandomize=True, database=None, deadline=None)
    @given(data=st.data())
    def each(data):
        case = data.draw(articles(ArticleIn, {leaf}, env))
        assert case.hot, case.doc
        assert set(case.leaves.values()) == {leaf}

    each()


# The well-known attacks, posted first for every leaf of their kind (the drawn values that
# follow are seeded per leaf, so they need not hit these).
CLASSICS = {
    "url": ["javascript:alert(1)", "java\tscript:alert(1)"],
    "picture-uri": ["java\tscript:alert(1)"],
    "date": ["9999-12-31T23:59:59-14:00"],
    "html": [
        # A tracking pixel. At an address, not a name: the door makes it a picture the worker
        # fetches, and the fetcher refuses a documentation address (RFC 5737) without a
        # lookup, where a name would send a DNS query off the machine.
        '<p>x</p><img src="https://198.51.100.7/pixel.gif" alt="">',
        '<p><img src="//198.51.100.7/pixel.gif" alt=""></p>',
        '<noscript><p title="</noscript><img src=x onerror=alert(1)>"></noscript>',  # mXSS
        '<p><a href="java&#x09;script:alert(1)">x</a></p>',
    ],
}
NAME_CLASSICS = {  # names that become feed file names: past the 255-byte NAME_MAX
    "subjects[].name": ["名" * 86],
    "places[].name": ["名" * 86],
    "infoSources[].name": ["名" * 86],
}
NAME_CLASSICS |= {  # free text that reaches the feeds' XML: characters XML 1.0 forbids
    "associations{}.creditline": ["credit\x00line\x0b"],
    "copyrightNotice": ["\u00a9 rights\x00\ufffe"],
}
LEAF_KINDS = {leaf.path: leaf.kind for leaf in leaf_paths(ArticleIn)}


def classic_case(leaf: str, value: object, uris: list[str], run) -> None:
    """``run(case)`` for the simplest article (hypothesis' first example) with ``value`` at
    ``leaf``."""

    @settings(max_examples=1, deadline=None, database=None, phases=[Phase.generate])
    @given(data=st.data())
    def one(data):
        env = Env(uuid.uuid4().hex[:12], uris)
        run(data.draw(articles(ArticleIn, set(), env, fixed={leaf: value}), label="article"))

    one()


def hostile_cases(leaf: str, attempts: int, uris: list[str], run) -> None:
    """Articles whose hostile values include ``leaf``'s (and maybe one more field's), posted
    by ``run(case) -> accepted`` until one is accepted or ``attempts`` were refused: a refusal
    costs a request, an acceptance a publication and a browser visit. Seeded by the leaf's
    name, so every run posts the same articles.

    Hypothesis starts with the simplest example (every choice its first option: the same
    ``<script>`` string in every field); it is generated but not posted, so the articles that
    are posted carry the variety."""
    for value in CLASSICS.get(LEAF_KINDS[leaf], []) + NAME_CLASSICS.get(leaf, []):
        classic_case(leaf, value, uris, run)
    made, accepted = 0, False

    @seed(zlib.crc32(leaf.encode()))
    @settings(
        max_examples=attempts + 1,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(data=st.data())
    def each(data):
        nonlocal made, accepted
        more = data.draw(st.sets(st.sampled_from(LEAVES), max_size=1), label="one more hot leaf")
        env = Env(uuid.uuid4().hex[:12], uris)
        case = data.draw(articles(ArticleIn, {leaf} | more, env), label="article")
        made += 1
        if made > 1 and not accepted:
            accepted = run(case)

    each()


@dataclass
class Run:
    """The findings of a whole run, and how each example ended."""

    findings: list[Finding]
    outcomes: Counter
    stuck_after: int | None = None  # the example after which feeds stopped updating
    _stuck_streak: int = 0

    def record(self, case: Case, outcome: str, problems: list[str], took: float) -> None:
        number = sum(self.outcomes.values())
        self.outcomes[outcome] += 1
        self.findings += [Finding(number, case.describe(), outcome, p) for p in problems]
        # Shown with a failure (and with -s): what each example was and what became of it.
        print(f"#{number} {outcome} {took:.1f}s {len(problems)} problems: {case.describe()}")
        stuck = any(p.startswith("a normal article posted after it") for p in problems)
        self._stuck_streak = self._stuck_streak + 1 if stuck else 0
        if self._stuck_streak >= 3 and self.stuck_after is None:
            self.stuck_after = number - 2


@pytest.mark.timeout(1800)  # a run on a broken pipeline must end with its findings, not a kill
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_hostile_articles_are_refused_or_published_safely(chromium, stack, httpserver):
    stack.reset()
    uris = picture_uris(stack, httpserver)
    result = Run([], Counter())
    started = time.monotonic()

    def run(case: Case) -> bool:
        if result.stuck_after is not None:
            return True  # nothing more to learn from a stuck pipeline
        begun = time.monotonic()
        outcome, problems = run_example(stack, chromium, case)
        result.record(case, outcome, problems, time.monotonic() - begun)
        return outcome != "refused"

    # Every leaf of the schema in turn is hostile, until one such article is accepted.
    only = os.environ.get("HOSTILE_FIELDS")  # "headlines[].value,uri": a quick look at a few
    for leaf in [leaf for leaf in LEAVES if not only or leaf in only.split(",")]:
        hostile_cases(leaf, ATTEMPTS, uris, run)
    outcomes = dict(result.outcomes)
    summary = f"{sum(outcomes.values())} examples in {time.monotonic() - started:.0f}s: {outcomes}"
    print(summary)
    if result.stuck_after is not None:
        summary += (
            f"\nfeeds stopped taking new articles after example #{result.stuck_after}; "
            "the rest were not run"
        )
    if result.findings:
        listing = "\n".join(f"  {f}" for f in result.findings)
        pytest.fail(f"{summary}\n{len(result.findings)} findings:\n{listing}", pytrace=False)
    # Both doors were exercised: a run that only refused (or only published) proves little.
    assert outcomes.get("refused") and outcomes.get("published"), summary
