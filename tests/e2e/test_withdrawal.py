"""A withdrawal (DELETE /v1/articles/<id>) on the real stack: the page answers 410 in the
site's style, the article leaves every feed and format, its own pictures stop being served
while a picture another live article shows stays, and WebSub subscribers get the feeds
without it."""

from __future__ import annotations

import time

import pytest
import requests

from tests.e2e.helpers_outputs import FORMATS, Names, feed_url, unique_picture, upload
from tests.e2e.helpers_outputs import where_shown as shown
from tests.e2e.test_webhooks import endpoints  # noqa: F401 - the fixture
from tests.feed.test_websub import Subscriber, hub, subscribe  # noqa: F401 - the fixture

pytestmark = pytest.mark.e2e


def two_pictures(names: Names, own: str, shared: str, **overrides) -> dict:
    return names.doc(
        bodies=[
            {
                "value": '<p>一。</p><figure data-association="own"></figure><p>二。</p>'
                '<figure data-association="shared"></figure><p>三。</p>'
            }
        ],
        associations={
            "own": {"type": "picture", "uri": own, "description": "独有图片"},
            "shared": {"type": "picture", "uri": shared, "description": "共用图片"},
        },
        **overrides,
    )


def one_picture(names: Names, uri: str) -> dict:
    return names.doc(
        bodies=[{"value": '<p>前文。</p><figure data-association="img"></figure>'}],
        associations={"img": {"type": "picture", "uri": uri, "description": "共用图片"}},
    )


def renditions(stack, article_id: str, key: str) -> list[str]:
    info = stack.status(article_id)
    return [r["href"] for r in info["article"]["associations"][key]["renditions"]]


def delete(stack, article_id: str) -> requests.Response:
    return requests.delete(
        f"{stack.ingest}/v1/articles/{article_id}", headers=stack.auth, timeout=10
    )


def wait_gone(stack, article_id: str, names: Names, pictures: list[str], timeout=60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        left = shown(stack, article_id, names, pictures)
        if not left:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"still shown in: {left}")
        time.sleep(0.2)


def published_with_pictures(stack) -> tuple[str, str, Names, list[str], list[str]]:
    """An article with a picture of its own and one another live article shows too."""
    names = Names.fresh("撤稿")
    own, shared = upload(stack, unique_picture()), upload(stack, unique_picture())
    article_id = stack.post(two_pictures(names, own, shared)).json()["id"]
    other_id = stack.post(one_picture(Names.fresh("他文"), shared)).json()["id"]
    stack.wait_status(article_id, "published")
    stack.wait_status(other_id, "published")
    for key in names.feed_keys():
        path = feed_url(stack, key, "atom").removeprefix(stack.feed)
        stack.wait_feed(path, lambda b: article_id.encode() in b)
    return (
        article_id,
        other_id,
        names,
        renditions(stack, article_id, "own"),
        renditions(stack, article_id, "shared"),
    )


def test_a_withdrawn_article_leaves_every_output_but_a_shared_picture_stays(stack):
    article_id, other_id, names, own, shared = published_with_pictures(stack)
    assert all(requests.get(h, timeout=10).status_code == 200 for h in own + shared)
    resp = delete(stack, article_id)
    assert resp.status_code == 202, resp.text
    assert resp.json()["status"] == "withdrawn" and resp.json()["version"] == 2
    stack.wait_status(article_id, "withdrawn")
    stack.wait_idle()
    wait_gone(stack, article_id, names, own)
    for href in own:
        assert requests.get(href, timeout=10).status_code == 404, href
    for href in shared:
        assert requests.get(href, timeout=10).status_code == 200, href
    assert stack.status(other_id)["status"] == "published"


def test_a_withdrawn_article_page_is_410_in_the_site_style(stack):
    names = Names.fresh("样式")
    article_id = stack.post(names.doc()).json()["id"]
    stack.wait_status(article_id, "published")
    assert delete(stack, article_id).status_code == 202
    stack.wait_status(article_id, "withdrawn")
    page = requests.get(f"{stack.feed}/articles/{article_id}", timeout=10)
    assert page.status_code == 410
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    home = requests.get(f"{stack.feed}/", timeout=10).text
    # The site's frame: its navigation and style, as on every other page.
    assert '<nav><a href="' in page.text and '<nav><a href="' in home
    assert "max-width:720px" in page.text and "max-width:720px" in home
    assert "撤稿" in page.text and "测试标题" not in page.text  # nothing of the article


def test_the_page_is_410_as_soon_as_the_withdrawal_is_accepted(stack):
    names = Names.fresh("即时")
    article_id = stack.post(names.doc()).json()["id"]
    stack.wait_status(article_id, "published")
    stack.redis.stop()  # the withdrawal step cannot run: only the store knows
    try:
        assert delete(stack, article_id).status_code == 202
        assert requests.get(f"{stack.feed}/articles/{article_id}", timeout=10).status_code == 410
    finally:
        stack.redis.start()
    stack.wait_status(article_id, "withdrawn")


def test_websub_subscribers_get_the_feed_without_the_withdrawn_article(hub, httpserver):  # noqa: F811
    stack = hub
    names = Names.fresh("推送")
    article_id = stack.post(names.doc()).json()["id"]
    stack.wait_status(article_id, "published")
    path = feed_url(stack, f"region/{names.region}", "atom").removeprefix(stack.feed)
    stack.wait_feed(path, lambda b: article_id.encode() in b)
    sub = Subscriber(httpserver, "/withdrawn")
    subscribe(stack, f"{stack.settings.public_base_url}{path}", sub)
    assert delete(stack, article_id).status_code == 202
    deadline = time.monotonic() + 60
    while not any(
        b"<feed" in body and article_id.encode() not in body for _, body in sub.deliveries
    ):
        assert time.monotonic() < deadline, f"no delivery without the article: {sub.deliveries}"
        time.sleep(0.1)


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_withdrawn_article_is_in_no_format_of_the_all_feed(stack, fmt):
    names = Names.fresh("格式")
    article_id = stack.post(names.doc()).json()["id"]
    stack.wait_status(article_id, "published")
    path = feed_url(stack, "all", fmt).removeprefix(stack.feed)
    stack.wait_feed(path, lambda b: article_id.encode() in b)
    assert delete(stack, article_id).status_code == 202
    stack.wait_feed(path, lambda b: article_id.encode() not in b)


def test_a_withdrawal_reaches_partners_as_a_tombstone_by_pull_and_push(stack, endpoints):  # noqa: F811
    """Issue 10's check in one: page 410, feeds without it, its only picture gone, and both
    partner channels carried the tombstone."""
    hook = endpoints()
    reader = stack.new_partner(["content:read"])
    article_id, _other, names, own, _shared = published_with_pictures(stack)
    hook.wait_received(2)  # this article and the other one, published
    assert delete(stack, article_id).status_code == 202
    stack.wait_status(article_id, "withdrawn")
    wait_gone(stack, article_id, names, own)
    assert requests.get(f"{stack.feed}/articles/{article_id}", timeout=10).status_code == 410
    assert all(requests.get(h, timeout=10).status_code == 404 for h in own)
    pushed = [
        r["payload"]["data"] for r in hook.wait_received(3)
        if r["payload"]["data"]["item"]["uri"].endswith(article_id)
    ]  # fmt: skip
    assert [d["operation"] for d in pushed] == ["published", "withdrawn"]
    assert pushed[-1]["item"]["pubStatus"] == "canceled" and "bodies" not in pushed[-1]["item"]
    pulled = requests.get(
        f"{stack.feed}/v1/partner/items/{article_id}", params={"versions": "all"},
        headers={"Authorization": f"Bearer {reader}"}, timeout=10,
    ).json()  # fmt: skip
    assert [c["operation"] for c in pulled["changes"]] == ["published", "withdrawn"]
    assert pulled["items"][-1]["pubStatus"] == "canceled"
    assert pulled["changes"][-1]["sequence"] == pushed[-1]["sequence"]
