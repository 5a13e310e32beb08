"""Bad input to the real ingest server: a 4xx JSON error, never a 500, nothing half-written."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest
import requests
import sqlalchemy as sa

ERROR_KEYS = {"error", "detail", "field"}


def now_shanghai() -> str:
    """Now, as a portal in Asia/Shanghai writes it: each article posted is the newest, so a
    test that waits for it in a 50-entry feed never waits behind the suite's other posts."""
    return datetime.now(timezone(timedelta(hours=8))).isoformat()


def article(**overrides) -> dict:
    doc = {
        "source": "tests",
        "guid": f"bad-input-{uuid.uuid4().hex}",
        "language": "zh-CN",
        "versionCreated": now_shanghai(),
        "headlines": [{"value": "测试标题"}],
        "bodies": [{"value": "<p>正文。</p>"}],
    }
    doc.update(overrides)
    return doc


def stored(stack, guid: str) -> int:
    with stack.engine.connect() as conn:
        articles = conn.execute(
            sa.text("SELECT count(*) FROM articles WHERE guid = :g"), {"g": guid}
        ).scalar()
    return articles


def assert_refused(resp: requests.Response, status: int, field: str | None = "any") -> dict:
    assert resp.status_code == status, resp.text
    assert resp.headers["Content-Type"].startswith("application/json")
    body = resp.json()
    assert set(body) == ERROR_KEYS
    assert body["detail"]
    if field != "any":
        assert body["field"] == field
    return body


def post_raw(stack, data: bytes, content_type: str = "application/json") -> requests.Response:
    return requests.post(
        f"{stack.ingest}/v1/articles",
        data=data,
        headers={"Content-Type": content_type, **stack.auth},
        timeout=30,
    )


def test_not_json_is_a_400(stack):
    assert_refused(post_raw(stack, b"{not json"), 400, None)


def test_json_that_is_not_an_object_is_a_422(stack):
    assert_refused(post_raw(stack, b"[1, 2, 3]"), 422, None)


def test_wrong_content_type_is_a_415(stack):
    assert_refused(post_raw(stack, b"<article/>", "application/xml"), 415)


def test_not_utf8_is_a_400(stack):
    assert_refused(post_raw(stack, b'{"a": "\xff\xfe"}'), 400)


def test_deeply_nested_json_is_a_400_not_a_crash(stack):
    assert_refused(post_raw(stack, b"[" * 100_000 + b"]" * 100_000), 400)


def test_missing_headline_names_the_field(stack):
    doc = article()
    del doc["headlines"]
    assert_refused(stack.post(doc), 422, "headlines")
    assert stored(stack, doc["guid"]) == 0


def test_wrong_type_names_the_field(stack):
    doc = article(headlines="not a list")
    assert_refused(stack.post(doc), 422, "headlines")
    assert stored(stack, doc["guid"]) == 0


def test_naive_datetime_is_refused(stack):
    doc = article(versionCreated="2017-12-04T00:00:00")
    assert_refused(stack.post(doc), 422, "versionCreated")


def test_unknown_field_is_refused(stack):
    doc = article(sneaky=True)
    body = assert_refused(stack.post(doc), 422, "sneaky")
    assert "unknown field" in body["detail"]
    assert stored(stack, doc["guid"]) == 0


def test_control_character_in_headline_is_refused(stack):
    doc = article(headlines=[{"value": "标题\x1b[31m"}])
    body = assert_refused(stack.post(doc), 422, "headlines.0.value")
    assert "U+001B" in body["detail"]
    assert stored(stack, doc["guid"]) == 0


def test_script_in_body_is_refused_and_nothing_stored(stack):
    doc = article(bodies=[{"value": "<p>hi</p><script>alert(1)</script>"}])
    body = assert_refused(stack.post(doc), 422, "bodies.0.value")
    assert "<script>" in body["detail"]
    assert stored(stack, doc["guid"]) == 0


def test_twenty_megabyte_body_is_a_413(stack):
    doc = article(bodies=[{"value": "<p>" + "字" * (7 * 1024 * 1024) + "</p>"}])
    assert_refused(stack.post(doc), 413, None)
    assert stored(stack, doc["guid"]) == 0


def test_xml_forbidden_characters_in_the_body_are_stripped(stack):
    doc = article(bodies=[{"value": "<p>A\x0bB\x0cC</p>"}])
    resp = stack.post(doc)
    assert resp.status_code == 202, resp.text
    stored_doc = stack.status(resp.json()["id"])["article"]
    assert stored_doc["bodies"][0]["value"] == "<p>ABC</p>"


def test_unknown_article_id_is_a_json_404(stack):
    resp = requests.get(f"{stack.ingest}/v1/articles/{'0' * 32}", headers=stack.auth, timeout=10)
    assert_refused(resp, 404, None)


def test_wrong_method_is_a_json_405(stack):
    resp = requests.delete(f"{stack.ingest}/v1/articles", timeout=10)
    assert_refused(resp, 405, None)


@pytest.mark.parametrize(
    "data",
    [b"", b"<html>not an image</html>", b"GIF8", b"\x00" * 100],
    ids=["empty", "html", "short-gif-magic", "zeros"],
)
def test_media_upload_refuses_what_is_not_an_image(stack, data):
    resp = requests.post(
        f"{stack.ingest}/v1/media",
        data=data,
        timeout=10,
        headers={"Content-Type": "application/octet-stream", **stack.auth},
    )
    assert resp.status_code in (400, 415)
    assert set(resp.json()) == ERROR_KEYS


# --- the door rules (shared.schema, ingest.services): each was accepted or a 500 before -------

HOSTILE = {
    "javascript-link": ({"uri": "javascript:alert(1)"}, "uri"),
    "javascript-recommended": (
        {
            "recommended": {
                "heading": "推荐资讯",
                "items": [{"headline": "x", "uri": "javascript:1"}],
            }
        },
        "recommended.items.0.uri",
    ),
    "control-in-link": ({"uri": "http://example.org/\x01"}, "uri"),
    "region-300-bytes": ({"places": [{"name": "中" * 100}]}, "places.0.name"),
    "source-300-bytes": ({"infoSources": [{"name": "中" * 100}]}, "infoSources.0.name"),
    "blank-headline": ({"headlines": [{"value": "\u3000 \u200b"}]}, "headlines.0.value"),
    "year-1-ahead-of-utc": ({"versionCreated": "0001-01-01T00:00:00+01:00"}, "versionCreated"),
    "year-9999-behind-utc": ({"firstCreated": "9999-12-31T23:59:59-01:00"}, "firstCreated"),
    "pinned-to-the-top": ({"versionCreated": "9999-12-31T23:59:59Z"}, "versionCreated"),
    "next-year": ({"versionCreated": "2099-01-01T00:00:00Z"}, "versionCreated"),
    "embargo-9999": ({"embargoedUntil": "9999-01-01T00:00:00Z"}, "embargoedUntil"),
    "surrogate-in-link": ({"uri": "http://example.org/\ud800"}, "uri"),
    "surrogate-in-place-uri": ({"places": [{"name": "内蒙", "uri": "\ud800"}]}, "places.0.uri"),
    "surrogate-in-role": ({"headlines": [{"value": "标题", "role": "\ud800"}]}, "headlines.0.role"),
}


@pytest.mark.parametrize(("overrides", "field"), HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_field_is_a_422_naming_it_and_nothing_is_stored(stack, overrides, field):
    doc = article(**overrides)
    assert_refused(stack.post(doc), 422, field)
    assert stored(stack, doc["guid"]) == 0


def test_unfit_characters_in_rights_and_captions_are_stripped(stack):
    picture = {"type": "picture", "uri": "urn:newsflow:media:sha256:" + "0" * 64,
               "description": "说\x0b明\ufffe", "creditline": "摄\U0001ffff影"}  # fmt: skip
    doc = article(copyrightNotice="版权\x01所有\ufdd0", associations={"img1": picture})
    resp = stack.post(doc)
    assert resp.status_code == 202, resp.text
    stored_doc = stack.status(resp.json()["id"])["article"]
    assert stored_doc["copyrightNotice"] == "版权所有"
    assert stored_doc["associations"]["img1"]["description"] == "说明"
    assert stored_doc["associations"]["img1"]["creditline"] == "摄影"
