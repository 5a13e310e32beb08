"""Names longer than a file name: the feed is written under a hashed file name and served at
its usual percent-encoded URL, through the real worker and the real feed server."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from urllib.parse import quote

import pytest
import requests
import sqlalchemy as sa

from shared import keys
from shared.tasknames import TASK_REBUILD_FEED
from tests.ingest.test_api_bad_input import article

pytestmark = pytest.mark.e2e


def publish(stack, **overrides) -> str:
    resp = stack.post(article(**overrides))
    assert resp.status_code == 202, resp.text
    article_id = resp.json()["id"]
    stack.wait_status(article_id, "published")
    return article_id


def wait_page(stack, path: str, timeout: float = 60) -> requests.Response:
    deadline = datetime.now(UTC).timestamp() + timeout
    while True:
        resp = requests.get(f"{stack.feed}{path}", timeout=10)
        if resp.status_code == 200 or datetime.now(UTC).timestamp() > deadline:
            return resp
        time.sleep(0.1)


def test_a_name_just_under_the_door_limit_is_served_at_its_percent_encoded_url(stack):
    name = uuid.uuid4().hex[:6] + "区" * 64  # 198 bytes in UTF-8; names may have 200
    article_id = publish(stack, places=[{"name": name}])
    stack.wait_feed(f"/feeds/region/{quote(name)}.atom", lambda b: article_id.encode() in b)
    assert wait_page(stack, f"/region/{quote(name)}").status_code == 200


@pytest.fixture(scope="module")
def long_feed(stack) -> tuple[str, str]:
    """A feed whose name is 300 bytes, as a row stored before names were bounded: its entry
    is written straight into feed_entries and the worker rebuilds it by task name."""
    article_id = publish(stack, places=[{"name": f"短{uuid.uuid4().hex[:6]}"}])
    name = uuid.uuid4().hex[:6] + "长" * 98  # 300 bytes
    feed_key = f"region/{name}"
    with stack.engine.begin() as conn:
        conn.execute(
            sa.text("INSERT INTO feed_entries (feed_key, article_id, sort_at) VALUES (:k, :a, :t)"),
            {"k": feed_key, "a": article_id, "t": datetime.now(UTC).replace(tzinfo=None)},
        )
    from render.app import create_app  # the client side of the worker's Celery app

    create_app(stack.settings).send_task(TASK_REBUILD_FEED, args=[feed_key])
    stack.wait_feed(f"/feeds/region/{quote(name)}.atom", lambda b: article_id.encode() in b)
    return feed_key, article_id


def test_a_300_byte_name_feed_is_served_at_its_percent_encoded_url(stack, long_feed):
    feed_key, article_id = long_feed
    name = feed_key.split("/", 1)[1]
    for fmt in keys.FEED_FORMATS:
        resp = requests.get(f"{stack.feed}/feeds/region/{quote(name)}.{fmt}", timeout=10)
        assert resp.status_code == 200 and article_id.encode() in resp.content


def test_a_300_byte_name_feed_is_stored_under_its_hashed_file_name(stack, long_feed):
    feed_key, _ = long_feed
    root = stack.settings.artifacts_dir
    stored = root / keys.feed_artifact(feed_key, "atom")
    assert stored.is_file() and stored.name.startswith(keys.HASHED_PREFIX)


def test_a_300_byte_name_feed_names_its_own_url_as_self(stack, long_feed):
    feed_key, _ = long_feed
    url = f"{stack.settings.public_base_url}/feeds/region/{quote(feed_key[7:])}.atom"
    resp = requests.get(url.replace(stack.settings.public_base_url, stack.feed), timeout=10)
    assert resp.links["self"]["url"] == url
    assert f'href="{url}"'.encode() in resp.content


def test_a_300_byte_name_page_is_served_at_its_percent_encoded_url(stack, long_feed):
    feed_key, article_id = long_feed
    resp = wait_page(stack, f"/region/{quote(feed_key[7:])}")
    assert resp.status_code == 200 and article_id in resp.text


def test_the_feed_directory_lists_a_300_byte_name_at_its_url(stack, long_feed):
    feed_key, _ = long_feed
    url = f"{stack.settings.public_base_url}/feeds/region/{quote(feed_key[7:])}.atom"
    opml = requests.get(f"{stack.feed}/feeds.opml", timeout=10).text
    assert f'xmlUrl="{url}"' in opml


def test_the_hub_takes_a_subscription_to_a_300_byte_name_feed(stack, long_feed):
    feed_key, _ = long_feed
    topic = f"{stack.settings.public_base_url}/feeds/region/{quote(feed_key[7:])}.atom"
    data = {"hub.mode": "subscribe", "hub.topic": topic, "hub.callback": "http://127.0.0.1:9/cb"}
    resp = requests.post(f"{stack.feed}/hub", data=data, timeout=10)
    assert resp.status_code == 202 and resp.json()["topic"] == topic
