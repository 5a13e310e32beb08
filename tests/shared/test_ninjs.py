"""shared.ninjs: every stored article becomes a valid IPTC ninjs 3.1 item, and nothing of it
is lost on the way (the seed articles carry every field the portal format has)."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from ingest.importers import scimall
from shared import ninjs
from shared.schema import ArticleIn

SCHEMA = json.loads(
    (Path(__file__).parents[1] / "fixtures/ninjs/ninjs-schema_3.1.json").read_text()
)
VALIDATOR = Draft202012Validator(SCHEMA, format_checker=Draft202012Validator.FORMAT_CHECKER)
SEED = sorted((Path(__file__).parents[2] / ".." / "shared" / "seed").glob("*.txt"))
BASE = "http://127.0.0.1:8080"


def stored(path: Path) -> tuple[dict, dict]:
    """The seed article as the store keeps it, with every picture made (three renditions)."""
    parsed = scimall.parse(path.read_text(encoding="utf-8"), path.name)
    doc = parsed.doc
    media = {}
    for key, assoc in doc.get("associations", {}).items():
        sha = hashlib.sha256(key.encode()).hexdigest()
        assoc["uri"] = f"urn:newsflow:media:sha256:{sha}"
        media[key] = {
            "status": "ok",
            "renditions": [
                {"name": f"w{w}", "href": f"media/{sha}/w{w}.jpg", "contenttype": "image/jpeg",
                 "width": w, "height": w // 2, "sizeinbytes": w * 10}
                for w in (320, 640, 1280)
            ],
        }  # fmt: skip
    return ArticleIn.model_validate(doc).model_dump(mode="json", exclude_none=True), media


def strings(value) -> set[str]:
    if isinstance(value, str):
        return {value}
    if isinstance(value, dict):
        return set().union(*(strings(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(strings(v) for v in value)) if value else set()
    return set()


def errors(item: dict) -> list[str]:
    return [f"{list(e.absolute_path)}: {e.message}" for e in VALIDATOR.iter_errors(item)]


def test_the_seed_is_there():
    assert len(SEED) == 4


@pytest.mark.parametrize("path", SEED, ids=lambda p: p.stem)
def test_a_seed_article_is_valid_ninjs_31(path):
    doc, media = stored(path)
    assert errors(ninjs.item("a" * 32, 3, doc, media, BASE)) == []


@pytest.mark.parametrize("path", SEED, ids=lambda p: p.stem)
def test_no_text_of_a_seed_article_is_lost(path):
    doc, media = stored(path)
    item = ninjs.item("a" * 32, 3, doc, media, BASE)
    assert strings(doc) - {"main", "text/html"} <= strings(item)


def test_renditions_have_absolute_urls_and_ninjs_names():
    doc, media = stored(SEED[0])
    item = ninjs.item("a" * 32, 3, doc, media, BASE)
    pictures = [a for a in item["associations"] if a["rel"] == "picture"]
    assert pictures, "the first seed article has pictures"
    for picture in pictures:
        for rendition in picture["renditions"]:
            assert rendition["href"].startswith(f"{BASE}/media/")
            assert set(rendition) == {"name", "href", "contentType", "width", "height",
                                      "sizeInBytes"}  # fmt: skip


def test_a_failed_picture_keeps_its_association_without_renditions():
    doc, media = stored(SEED[0])
    key = next(iter(media))
    media[key] = {"status": "failed", "reason": "host answered 500"}
    item = ninjs.item("a" * 32, 3, doc, media, BASE)
    picture = next(a for a in item["associations"] if a["name"] == key)
    assert "renditions" not in picture
    assert errors(item) == []


def test_recommended_reading_keeps_its_order_and_heading():
    doc = {
        "source": "tests", "guid": "g", "language": "zh-CN",
        "versionCreated": "2026-11-27T08:00:00+08:00",
        "headlines": [{"role": "main", "value": "标题"}],
        "bodies": [{"role": "main", "contenttype": "text/html", "value": "<p>正文</p>"}],
        "recommended": {"heading": "推荐资讯", "items": [
            {"headline": "第一", "uri": "https://example.org/1"}, {"headline": "第二"}]},
    }  # fmt: skip
    item = ninjs.item("b" * 32, 1, doc, {}, BASE)
    recommended = [a for a in item["associations"] if a["rel"] == "recommended"]
    assert [a["headlines"][0]["value"] for a in recommended] == ["第一", "第二"]
    assert item["descriptions"] == [{"role": "recommendedHeading", "value": "推荐资讯"}]
    assert errors(item) == []


def test_an_embargoed_version_says_until_when_and_has_no_page():
    doc, media = stored(SEED[1])
    doc["embargoedUntil"] = "2026-12-01T00:00:00+00:00"
    item = ninjs.item("c" * 32, 2, doc, media, BASE, page=False)
    assert item["embargoedUntil"] == "2026-12-01T00:00:00+00:00"
    assert "renditions" not in item
    assert errors(item) == []


def test_a_tombstone_is_valid_and_carries_no_content():
    item = ninjs.tombstone("d" * 32, 4, datetime(2026, 11, 27, tzinfo=UTC), "tests", "g-1")
    assert item["pubStatus"] == "canceled"
    assert not {"headlines", "bodies", "associations"} & set(item)
    assert errors(item) == []


def test_the_item_uri_is_ours_and_round_trips():
    uri = ninjs.item_uri("e" * 32)
    assert uri == "urn:newsflow:article:" + "e" * 32
    assert ninjs.article_id_of(uri) == "e" * 32
    assert ninjs.article_id_of("https://example.org/x") is None
