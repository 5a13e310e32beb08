"""Upsert by (source, guid) through the real ingest server: created, unchanged, updated, stale."""

from __future__ import annotations

import uuid

import sqlalchemy as sa

from tests.ingest.test_api_bad_input import article


def outbox_rows(stack, article_id: str) -> int:
    with stack.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT args FROM outbox")).scalars().all()
    import json

    return sum(1 for args in rows if article_id in json.dumps(args))


def test_new_article_is_accepted_with_a_status_url(stack):
    resp = stack.post(article())
    assert resp.status_code == 202
    body = resp.json()
    assert body["result"] == "created" and body["version"] == 1
    assert body["statusUrl"].endswith(f"/v1/articles/{body['id']}")
    assert resp.headers["Location"] == body["statusUrl"]


def test_identical_content_is_a_no_op(stack):
    doc = article()
    first = stack.post(doc).json()
    again = stack.post(doc)
    assert again.status_code == 200
    assert again.json()["result"] == "unchanged"
    assert again.json()["version"] == 1
    assert outbox_rows(stack, first["id"]) == 1


def test_changed_content_is_the_next_version(stack):
    doc = article()
    first = stack.post(doc).json()
    doc["bodies"] = [{"value": "<p>更正后的正文。</p>"}]
    second = stack.post(doc).json()
    assert second["id"] == first["id"]
    assert (second["result"], second["version"]) == ("updated", 2)
    assert outbox_rows(stack, first["id"]) == 2


def test_a_late_older_version_never_overwrites_a_newer_one(stack):
    guid = f"late-{uuid.uuid4().hex}"
    newer = article(
        guid=guid, versionCreated="2017-12-05T09:00:00+08:00", bodies=[{"value": "<p>新版本。</p>"}]
    )
    older = article(
        guid=guid, versionCreated="2017-12-05T08:00:00+08:00", bodies=[{"value": "<p>旧版本。</p>"}]
    )
    created = stack.post(newer).json()
    late = stack.post(older)
    assert late.status_code == 409
    assert late.json()["error"] == "stale_version"
    assert late.json()["field"] == "versionCreated"
    kept = stack.status(created["id"])
    assert kept["version"] == 1
    assert kept["article"]["bodies"][0]["value"] == "<p>新版本。</p>"


def test_status_goes_from_queued_to_published(stack):
    resp = stack.post(article())
    assert resp.json()["status"] == "queued"
    info = stack.wait_status(resp.json()["id"], "published")
    assert info["pageUrl"].startswith(stack.feed)
