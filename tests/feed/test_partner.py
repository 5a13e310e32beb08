"""The partner pull API (feed.partner) on the running stack: keys and scopes, cursors,
filters, validators and compression, one item and its history, embargoed versions."""

from __future__ import annotations

import gzip
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from jsonschema import Draft202012Validator

from shared.partners import SCOPE_CONTENT_READ, SCOPE_EMBARGO_READ, SCOPE_INGEST_WRITE
from tests.ingest.test_api_bad_input import now_shanghai

SCHEMA = json.loads(
    (Path(__file__).parents[1] / "fixtures/ninjs/ninjs-schema_3.1.json").read_text()
)
NINJS = Draft202012Validator(SCHEMA, format_checker=Draft202012Validator.FORMAT_CHECKER)
ITEMS = "/v1/partner/items"


def article(**overrides) -> dict:
    doc = {
        "source": "tests",
        "guid": f"partner-{uuid.uuid4().hex}",
        "language": "zh-CN",
        "versionCreated": now_shanghai(),
        "headlines": [{"value": "合作方测试"}],
        "bodies": [{"value": "<p>正文。</p>"}],
        "places": [{"name": "合作方"}],
        "copyrightNotice": "版权所有",
        "usageTerms": "仅限合作方转载",
    }
    doc.update(overrides)
    return doc


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture(scope="module")
def reader(stack) -> str:
    return stack.new_partner([SCOPE_CONTENT_READ])


@pytest.fixture(scope="module")
def embargo_reader(stack) -> str:
    return stack.new_partner([SCOPE_CONTENT_READ, SCOPE_EMBARGO_READ])


def get(stack, key: str, path: str = ITEMS, **params) -> requests.Response:
    return requests.get(f"{stack.feed}{path}", params=params, headers=bearer(key), timeout=30)


def published(stack, **overrides) -> dict:
    resp = stack.post(article(**overrides))
    assert resp.status_code == 202, resp.text
    body = resp.json()
    stack.wait_status(body["id"], "published", body["version"])
    return body


def head_cursor(stack, key: str, **params) -> str:
    """The cursor after every change there is now."""
    resp = get(stack, key, since=datetime.now(UTC).isoformat(), **params)
    assert resp.status_code == 200, resp.text
    return resp.json()["next"]


def walk(stack, key: str, cursor: str | None = None, **params) -> tuple[list, list, str]:
    items, metas = [], []
    while True:
        query = dict(params, limit=37) | ({"cursor": cursor} if cursor else {})
        resp = get(stack, key, **query)
        assert resp.status_code == 200, resp.text
        page = resp.json()
        items += page["items"]
        metas += page["changes"]
        cursor = page["next"]
        if not page["hasMore"]:
            return items, metas, cursor


def assert_problem(resp: requests.Response, status: int, field: str | None) -> None:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert set(body) == {"error", "detail", "field"}
    assert body["field"] == field


def test_without_a_key_the_pull_api_is_401(stack):
    resp = requests.get(f"{stack.feed}{ITEMS}", timeout=10)
    assert resp.status_code == 401
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_key_without_content_read_is_403(stack):
    writer = stack.new_partner([SCOPE_INGEST_WRITE], ["tests"])
    resp = get(stack, writer)
    assert resp.status_code == 403
    assert 'scope="content:read"' in resp.headers["WWW-Authenticate"]


def test_a_new_article_is_pulled_as_valid_ninjs_with_its_rights(stack, reader):
    cursor = head_cursor(stack, reader)
    posted = published(stack)
    items, metas, _ = walk(stack, reader, cursor)
    mine = [i for i, m in zip(items, metas, strict=True) if m["uri"].endswith(posted["id"])]
    assert len(mine) == 1
    item = mine[0]
    assert list(NINJS.iter_errors(item)) == []
    assert (item["copyrightNotice"], item["usageTerms"]) == ("版权所有", "仅限合作方转载")
    assert item["pubStatus"] == "usable"
    assert item["version"] == "1"
    assert item["renditions"][0]["href"].endswith(f"/articles/{posted['id']}")


def test_an_update_and_a_withdrawal_follow_in_order(stack, reader):
    cursor = head_cursor(stack, reader)
    first = published(stack)
    guid = stack.status(first["id"])["guid"]
    published(stack, guid=guid, headlines=[{"value": "更新后的标题"}])
    gone = stack.post(article(guid=guid, pubStatus="canceled"))
    assert gone.status_code == 202, gone.text
    stack.wait_status(first["id"], "withdrawn")
    # The status says "withdrawn" once ingest accepted it; the tombstone is the worker's.
    stack.wait_idle()
    items, metas, _ = walk(stack, reader, cursor)
    ops = [m["operation"] for m in metas if m["uri"].endswith(first["id"])]
    assert ops == ["published", "updated", "withdrawn"]
    tombstone = items[[m["uri"] for m in metas].index(f"urn:newsflow:article:{first['id']}") + 2]
    assert tombstone["pubStatus"] == "canceled"
    assert "bodies" not in tombstone
    assert list(NINJS.iter_errors(tombstone)) == []


def test_the_same_cursor_gives_the_same_page(stack, reader):
    published(stack)
    published(stack)
    first = get(stack, reader, limit=2)
    again = get(stack, reader, limit=2)
    assert first.json() == again.json()
    second = get(stack, reader, limit=2, cursor=first.json()["next"])
    seqs = [m["sequence"] for m in first.json()["changes"] + second.json()["changes"]]
    assert seqs == sorted(set(seqs))


def test_a_region_filter_gives_only_that_region(stack, reader):
    region = f"区域-{uuid.uuid4().hex[:8]}"
    cursor_all = head_cursor(stack, reader)
    published(stack, places=[{"name": region}])
    published(stack)
    items, _, _ = walk(stack, reader, region=region)
    assert [i["places"] for i in items] == [[{"name": region}]]
    _, metas, _ = walk(stack, reader, cursor_all)
    assert len(metas) >= 2


def test_a_cursor_for_other_filters_is_400(stack, reader):
    cursor = get(stack, reader, region="北京").json()["next"]
    assert_problem(get(stack, reader, cursor=cursor), 400, "cursor")


def test_another_partners_cursor_is_400(stack, reader, embargo_reader):
    cursor = get(stack, embargo_reader).json()["next"]
    assert_problem(get(stack, reader, cursor=cursor), 400, "cursor")


@pytest.mark.parametrize(
    "cursor",
    ["x", "v1.1.", "v1.-1.AAAA", "v2.5.AAAAAAAAAAAAAAAA", "v1.99999999999999999999.A", "é" * 50,
     "v1.5." + "A" * 300],
)  # fmt: skip
def test_a_malformed_cursor_is_400(stack, reader, cursor):
    assert_problem(get(stack, reader, cursor=cursor), 400, "cursor")


def test_a_tampered_cursor_is_400(stack, reader):
    cursor = get(stack, reader).json()["next"]
    version, seq, mac = cursor.split(".")
    assert_problem(get(stack, reader, cursor=f"{version}.{int(seq) + 1}.{mac}"), 400, "cursor")


@pytest.mark.parametrize("limit", ["0", "501", "-1", "ten", "1e3", "٣"])
def test_a_limit_out_of_range_is_400(stack, reader, limit):
    assert_problem(get(stack, reader, limit=limit), 400, "limit")


@pytest.mark.parametrize("since", ["yesterday", "2026-11-27T08:00:00", "2026-13-01T00:00:00Z"])
def test_a_malformed_since_is_400(stack, reader, since):
    assert_problem(get(stack, reader, since=since), 400, "since")


def test_cursor_and_since_together_are_400(stack, reader):
    cursor = get(stack, reader).json()["next"]
    resp = get(stack, reader, cursor=cursor, since="2026-11-27T00:00:00Z")
    assert_problem(resp, 400, "since")


@pytest.mark.parametrize("region", ["", "a" * 301, "bad\x01name"])
def test_a_malformed_region_is_400(stack, reader, region):
    assert_problem(get(stack, reader, region=region), 400, "region")


def test_since_starts_at_the_first_change_after_that_time(stack, reader):
    published(stack)
    moment = datetime.now(UTC).isoformat()
    later = published(stack)
    _, metas, _ = walk(stack, reader, since=moment)
    assert metas and metas[0]["uri"].endswith(later["id"])


def test_an_unchanged_page_is_304_with_its_etag(stack, reader):
    first = get(stack, reader, limit=3)
    etag = first.headers["ETag"]
    assert etag.startswith('W/"')
    again = requests.get(
        f"{stack.feed}{ITEMS}", params={"limit": 3},
        headers={**bearer(reader), "If-None-Match": etag}, timeout=10,
    )  # fmt: skip
    assert again.status_code == 304
    assert again.headers["ETag"] == etag
    assert again.content == b""


def test_a_page_is_gzipped_for_a_client_that_accepts_it(stack, reader):
    published(stack)
    resp = requests.get(
        f"{stack.feed}{ITEMS}", params={"limit": 20},
        headers={**bearer(reader), "Accept-Encoding": "gzip"}, stream=True, timeout=10,
    )  # fmt: skip
    assert resp.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in resp.headers["Vary"]
    body = json.loads(gzip.decompress(resp.raw.read()))
    assert body["items"]


def test_one_item_is_its_current_version(stack, reader):
    first = published(stack)
    guid = stack.status(first["id"])["guid"]
    published(stack, guid=guid, headlines=[{"value": "第二版"}])
    resp = get(stack, reader, f"{ITEMS}/{first['id']}")
    assert resp.status_code == 200, resp.text
    item = resp.json()
    assert (item["version"], item["headlines"][0]["value"]) == ("2", "第二版")
    assert resp.headers["Newsflow-Operation"] == "updated"
    assert list(NINJS.iter_errors(item)) == []


def test_an_items_history_lists_every_version(stack, reader):
    first = published(stack)
    guid = stack.status(first["id"])["guid"]
    published(stack, guid=guid, headlines=[{"value": "第二版"}])
    resp = get(stack, reader, f"{ITEMS}/{first['id']}", versions="all")
    history = resp.json()
    assert [i["version"] for i in history["items"]] == ["1", "2"]
    assert [c["operation"] for c in history["changes"]] == ["published", "updated"]


@pytest.mark.parametrize("article_id", ["0" * 32, "not-an-id", "a" * 33])
def test_an_unknown_item_is_404(stack, reader, article_id):
    resp = get(stack, reader, f"{ITEMS}/{article_id}")
    assert_problem(resp, 404, None)


def test_versions_other_than_all_is_400(stack, reader):
    first = published(stack)
    assert_problem(get(stack, reader, f"{ITEMS}/{first['id']}", versions="2"), 400, "versions")


def test_an_embargoed_version_is_only_for_embargo_readers(stack, reader, embargo_reader):
    cursor_public = head_cursor(stack, reader)
    cursor_flagged = head_cursor(stack, embargo_reader)
    until = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    resp = stack.post(article(embargoedUntil=until))
    assert resp.status_code == 202, resp.text
    held = resp.json()["id"]
    stack.wait_status(held, "embargoed")
    public, _, _ = walk(stack, reader, cursor_public)
    assert all(not i["uri"].endswith(held) for i in public)
    assert get(stack, reader, f"{ITEMS}/{held}").status_code == 404
    flagged, metas, _ = walk(stack, embargo_reader, cursor_flagged)
    mine = [(i, m) for i, m in zip(flagged, metas, strict=True) if m["uri"].endswith(held)]
    assert len(mine) == 1
    item, meta = mine[0]
    assert meta["embargoed"] is True
    assert datetime.fromisoformat(item["embargoedUntil"]) == datetime.fromisoformat(until)
    assert "renditions" not in item  # no page yet
    assert list(NINJS.iter_errors(item)) == []


def test_every_pull_is_audited_without_the_key(stack):
    import sqlalchemy as sa

    key = stack.new_partner([SCOPE_CONTENT_READ])
    get(stack, key, limit=1)
    assert_problem(get(stack, key, limit=0), 400, "limit")
    with stack.engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT a.route, a.status FROM audit_log a JOIN api_keys k ON k.id = a.key_id "
                "WHERE k.id = :kid ORDER BY a.id"
            ),
            {"kid": key.split("_")[2]},
        ).all()
    assert [tuple(r) for r in rows] == [("/v1/partner/items", 200), ("/v1/partner/items", 400)]
