"""A partner walks the change log from an empty cursor while articles are created, updated,
withdrawn, held by embargoes and released, and published again, many at once, and ends with
exactly the final state: every change once, in order, no gap, every item valid ninjs 3.1
(issue 10's check)."""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path

import requests
import sqlalchemy as sa
from jsonschema import Draft202012Validator

from shared.partners import SCOPE_CONTENT_READ

SCHEMA = json.loads(
    (Path(__file__).parents[1] / "fixtures/ninjs/ninjs-schema_3.1.json").read_text()
)
NINJS = Draft202012Validator(SCHEMA, format_checker=Draft202012Validator.FORMAT_CHECKER)
ARTICLES = 100
OPS_EACH = 5  # 500 changes in all
PAGE = 37
DRIVERS = 8
EMBARGO_S = 1.0


def now() -> str:
    return datetime.now(timezone(timedelta(hours=8))).isoformat()


class Driver:
    """Runs one article through its changes, each after the previous one is live."""

    def __init__(self, stack, region: str, n: int) -> None:
        self.stack, self.region, self.n = stack, region, n
        self.guid = f"walk-{uuid.uuid4().hex}"
        self.id: str | None = None
        self.final: tuple[str, str] | None = None  # ("live", headline) or ("withdrawn", "")

    def post(self, headline: str, status: str = "usable", embargo: float = 0) -> dict:
        doc = {
            "source": "tests", "guid": self.guid, "language": "zh-CN", "versionCreated": now(),
            "pubStatus": status, "headlines": [{"value": headline}],
            "bodies": [{"value": f"<p>{headline}</p>"}], "places": [{"name": self.region}],
        }  # fmt: skip
        if embargo:
            until = datetime.now(timezone(timedelta(hours=8))) + timedelta(seconds=embargo)
            doc["embargoedUntil"] = until.isoformat()
        resp = self.stack.post(doc)
        assert resp.status_code == 202, resp.text
        return resp.json()

    def wait(self, article_id: str, status: str, published_version: int | None) -> None:
        """Until the worker has made the change (read from the store: polling the status API
        would write an audit row each time, competing with the worker for SQLite's lock). A
        withdrawal is done when no version is published any more."""
        deadline = time.monotonic() + 120
        query = sa.text("SELECT status, published_version FROM articles WHERE id = :i")
        while time.monotonic() < deadline:
            with self.stack.engine.connect() as conn:
                found = tuple(conn.execute(query, {"i": article_id}).one())
            if found == (status, published_version):
                return
            time.sleep(0.05)
        raise AssertionError(f"{article_id} never became {status} v{published_version}: {found}")

    def run(self) -> None:
        rng = random.Random(self.n)
        live = False
        for step in range(OPS_EACH):
            headline = f"第{self.n}篇 第{step}版"
            roll = rng.random()
            if live and step > 0 and roll < 0.3:
                body = self.post(headline, "canceled")
                self.wait(body["id"], "withdrawn", None)
                live, self.final = False, ("withdrawn", "")
            else:
                # One change in five is held by an embargo and released by the scheduler.
                body = self.post(headline, embargo=EMBARGO_S if roll > 0.8 else 0)
                self.wait(body["id"], "published", body["version"])
                live, self.final = True, ("live", headline)
            self.id = body["id"]


def pull_page(stack, key: str, region: str, cursor: str | None) -> dict:
    params = {"region": region, "limit": PAGE} | ({"cursor": cursor} if cursor else {})
    resp = requests.get(
        f"{stack.feed}/v1/partner/items", params=params,
        headers={"Authorization": f"Bearer {key}"}, timeout=30,
    )  # fmt: skip
    assert resp.status_code == 200, resp.text
    return resp.json()


def test_a_partner_pulls_500_concurrent_changes_and_ends_with_the_final_state(stack):
    key = stack.new_partner([SCOPE_CONTENT_READ])
    region = f"walk-{uuid.uuid4().hex[:10]}"  # this test's changes only, from an empty cursor
    drivers = [Driver(stack, region, n) for n in range(ARTICLES)]
    done = threading.Event()
    with ThreadPoolExecutor(DRIVERS) as pool:
        futures = [pool.submit(d.run) for d in drivers]
        pulled_items, pulled_changes, cursor = [], [], None
        pool.submit(lambda: ([f.result() for f in futures], done.set()))
        while True:  # the partner pulls while the changes are being made
            finished = done.is_set()
            page = pull_page(stack, key, region, cursor)
            pulled_items += page["items"]
            pulled_changes += page["changes"]
            cursor = page["next"]
            if finished and not page["hasMore"]:
                break
            if not page["hasMore"]:
                done.wait(0.2)
        for f in futures:
            f.result()  # a driver's failure fails the test
    seqs = [c["sequence"] for c in pulled_changes]
    assert seqs == sorted(set(seqs)), "out of order or duplicated"
    with stack.engine.connect() as conn:
        logged = (
            conn.execute(
                sa.text(
                    "SELECT p.seq FROM change_places p JOIN changes c ON c.seq = p.seq "
                    "WHERE p.name = :r AND c.audience = 'all' ORDER BY p.seq"
                ),
                {"r": region},
            )
            .scalars()
            .all()
        )
    assert seqs == list(logged), "a change was skipped"
    assert len(seqs) == ARTICLES * OPS_EACH
    ops = {c["operation"] for c in pulled_changes}
    assert ops == {"published", "updated", "withdrawn", "released"}, ops
    for item in pulled_items:
        assert list(NINJS.iter_errors(item)) == [], item["uri"]
    state: dict[str, tuple[str, str]] = {}
    for item in pulled_items:  # what a partner's store holds after applying every change
        if item["pubStatus"] == "canceled":
            state[item["uri"]] = ("withdrawn", "")
        else:
            state[item["uri"]] = ("live", item["headlines"][0]["value"])
    assert state == {f"urn:newsflow:article:{d.id}": d.final for d in drivers}
