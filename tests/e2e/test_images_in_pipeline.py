"""Pictures through the running system: uploaded, fetched from a (local) partner host, refused."""

from __future__ import annotations

import re
import threading
import time

import pytest
import requests
from werkzeug import Response

from render.images import AVIF_AVAILABLE
from tests.conftest import FIXTURES, SEED
from tests.ingest.test_api_bad_input import article

pytestmark = pytest.mark.e2e


def upload(stack, data: bytes) -> str:
    resp = requests.post(
        f"{stack.ingest}/v1/media",
        data=data,
        timeout=30,
        headers={"Content-Type": "application/octet-stream", **stack.auth},
    )
    assert resp.status_code == 201, resp.text
    return resp.json()["uri"]


def with_picture(uri: str, **overrides) -> dict:
    return article(
        bodies=[{"value": '<p>前文。</p><figure data-association="img1"></figure><p>后文。</p>'}],
        associations={"img1": {"type": "picture", "uri": uri, "description": "图片说明"}},
        **overrides,
    )


def test_uploaded_picture_is_rendered_into_the_page(stack):
    uri = upload(stack, (SEED / "images" / "20171205013108_c8d4de.jpg").read_bytes())
    article_id = stack.post(with_picture(uri)).json()["id"]
    info = stack.wait_status(article_id, "published")
    assert info["images"] == {"img1": {"status": "ok"}}
    page = requests.get(f"{stack.feed}/articles/{article_id}", timeout=10).text
    assert '<source type="image/webp"' in page
    assert 'alt="图片说明"' in page and "<figcaption>图片说明</figcaption>" in page
    assert re.search(r'<img src="[^"]+w\d+\.jpg"[^>]* width="\d+" height="\d+"', page)


def test_status_api_shows_each_rendition_as_ninjs(stack):
    uri = upload(stack, (SEED / "images" / "20171205013108_c8d4de.jpg").read_bytes())
    article_id = stack.post(with_picture(uri)).json()["id"]
    info = stack.wait_status(article_id, "published")
    renditions = info["article"]["associations"]["img1"]["renditions"]
    assert {"w320", "thumb"} <= {r["name"] for r in renditions}
    for r in renditions:
        assert set(r) == {"name", "href", "contenttype", "width", "height", "sizeinbytes"}
        resp = requests.get(r["href"], timeout=10)
        assert resp.status_code == 200
        assert resp.headers["Content-Type"] == r["contenttype"]
        assert len(resp.content) == r["sizeinbytes"]


@pytest.mark.skipif(not AVIF_AVAILABLE, reason="this Pillow has no AVIF encoder")
def test_avif_renditions_follow_publication_and_reach_the_page(stack):
    uri = upload(stack, (SEED / "images" / "20171206093015_a1b2c3.jpg").read_bytes())
    article_id = stack.post(with_picture(uri)).json()["id"]
    stack.wait_status(article_id, "published")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        page = requests.get(f"{stack.feed}/articles/{article_id}", timeout=10).text
        if '<source type="image/avif"' in page:
            break
        time.sleep(0.2)
    assert '<source type="image/avif"' in page
    renditions = stack.status(article_id)["article"]["associations"]["img1"]["renditions"]
    avif = [r for r in renditions if r["contenttype"] == "image/avif"]
    widths = {r["width"] for r in renditions if r["contenttype"] == "image/jpeg"}
    assert {r["width"] for r in avif} == widths - {160}  # every width; no AVIF thumbnail
    resp = requests.get(avif[0]["href"], timeout=10)
    assert resp.headers["Content-Type"] == "image/avif"
    assert resp.content[4:12] == b"ftypavif"


def test_picture_fetched_from_an_allowed_local_host(stack, httpserver):
    httpserver.expect_request("/photo.jpg").respond_with_data(
        (SEED / "images" / "20180110154233_9f8e7d.jpg").read_bytes(), content_type="image/jpeg"
    )
    article_id = stack.post(with_picture(httpserver.url_for("/photo.jpg"))).json()["id"]
    info = stack.wait_status(article_id, "published")
    assert info["images"] == {"img1": {"status": "ok"}}


def test_a_refused_picture_is_recorded_and_the_article_still_publishes(stack, httpserver):
    httpserver.expect_request("/fake.jpg").respond_with_data(
        b"<html>not an image</html>", content_type="image/jpeg"
    )
    article_id = stack.post(with_picture(httpserver.url_for("/fake.jpg"))).json()["id"]
    info = stack.wait_status(article_id, "published")
    assert info["images"]["img1"]["status"] == "failed"
    assert "not an image" in info["images"]["img1"]["reason"]


def test_a_picture_at_a_metadata_address_is_refused_without_a_connection(stack):
    article_id = stack.post(with_picture("http://169.254.169.254/latest/meta-data/x.jpg")).json()[
        "id"
    ]
    info = stack.wait_status(article_id, "published")
    assert info["images"]["img1"]["status"] == "failed"
    assert "link-local" in info["images"]["img1"]["reason"]


def test_a_truncated_upload_is_refused_with_a_reason(stack):
    uri = upload(stack, (FIXTURES / "images" / "truncated.jpg").read_bytes())
    article_id = stack.post(with_picture(uri)).json()["id"]
    info = stack.wait_status(article_id, "published")
    assert "truncated" in info["images"]["img1"]["reason"]


def test_an_update_in_progress_never_shows_in_a_feed_before_it_is_published(stack, httpserver):
    # Version 2 waits for a slow picture; meanwhile another article rebuilds the same feed,
    # which must still show version 1's headline (and version 2's once it is published).
    region = f"慢图{time.monotonic_ns()}"
    guid = f"slow-update-{time.monotonic_ns()}"
    first = stack.post(article(guid=guid, headlines=[{"value": "第一版标题"}],
                               places=[{"name": region}]))  # fmt: skip
    article_id = first.json()["id"]
    stack.wait_status(article_id, "published", version=1)
    asked, release = threading.Event(), threading.Event()

    def slow_picture(_request):
        asked.set()
        release.wait(timeout=20)
        return Response((FIXTURES / "images" / "coffee.jpg").read_bytes(), 200,
                        content_type="image/jpeg")  # fmt: skip

    httpserver.expect_request("/slow.jpg").respond_with_handler(slow_picture)
    uri = f"http://127.0.0.1:{httpserver.port}/slow.jpg"
    second = stack.post(with_picture(uri, guid=guid, headlines=[{"value": "第二版标题"}],
                                     places=[{"name": region}]))  # fmt: skip
    assert second.json()["version"] == 2
    try:
        assert asked.wait(timeout=30), "the worker never fetched the picture"
        other = stack.post(article(places=[{"name": region}])).json()["id"]
        feed = requests.utils.quote(f"/feeds/region/{region}.atom")
        body = stack.wait_feed(feed, lambda b: other.encode() in b)
        assert "第一版标题".encode() in body
        assert "第二版标题".encode() not in body
    finally:
        release.set()
    stack.wait_status(article_id, "published", version=2)
    stack.wait_feed(feed, lambda b: "第二版标题".encode() in b and "第一版标题".encode() not in b)
