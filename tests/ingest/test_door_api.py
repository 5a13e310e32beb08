"""A body picture from another origin, through the running system: fetched by the worker and
served from our own /media/, so the page makes no third-party request."""

from __future__ import annotations

import re

import requests

from ingest.bodyimages import picture_key
from tests.conftest import SEED
from tests.ingest.test_api_bad_input import article

PHOTO = SEED / "images" / "20171205013108_c8d4de.jpg"


def test_third_party_body_picture_is_published_from_our_own_media(stack, httpserver):
    httpserver.expect_request("/photos/hall.jpg").respond_with_data(
        PHOTO.read_bytes(), content_type="image/jpeg"
    )
    src = httpserver.url_for("/photos/hall.jpg")
    third_party = f":{httpserver.port}"
    doc = article(bodies=[{"value": f'<p>会场<img src="{src}" alt="会场全景">之外</p>'}])
    resp = stack.post(doc)
    assert resp.status_code == 202, resp.text
    info = stack.wait_status(resp.json()["id"], "published")

    key = picture_key(src)
    assert info["images"] == {key: {"status": "ok"}}
    assert info["article"]["associations"][key]["uri"] == src  # the original is kept
    page = requests.get(info["pageUrl"], timeout=10).text
    sources = re.findall(r'(?:src|srcset)="([^"]+)"', page)
    assert sources, page
    assert all(s.startswith(f"{stack.settings.public_base_url}/media/") for s in sources), sources
    assert third_party not in page
    assert "<figcaption>会场全景</figcaption>" in page


def test_third_party_body_picture_sent_again_is_unchanged(stack, httpserver):
    httpserver.expect_request("/photos/again.jpg").respond_with_data(
        PHOTO.read_bytes(), content_type="image/jpeg"
    )
    src = httpserver.url_for("/photos/again.jpg")
    doc = article(bodies=[{"value": f'<p><img src="{src}"></p>'}])
    first = stack.post(doc)
    assert first.status_code == 202
    again = stack.post(doc)
    assert again.status_code == 200, again.text
    assert again.json()["result"] == "unchanged"
    stored = stack.status(first.json()["id"])["article"]
    assert list(stored["associations"]) == [picture_key(src)]
