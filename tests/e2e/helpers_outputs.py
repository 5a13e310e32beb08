"""Every public output of the running system, for tests that check an article is in all of
them or in none (embargo, withdrawal): the page, every feed in every format, the channel
pages, the home page, the feeds directory and its OPML, pictures."""

from __future__ import annotations

import io
import random
import time
import uuid
from dataclasses import dataclass
from urllib.parse import quote

import requests
from PIL import Image

from tests.ingest.test_api_bad_input import article

FORMATS = ("rss", "atom", "json")


def unique_picture() -> bytes:
    """A JPEG no other test posts: its rendition set is this test's alone."""
    rng = random.Random(uuid.uuid4().int)
    img = Image.new("RGB", (64, 48), tuple(rng.randrange(256) for _ in range(3)))
    for _ in range(40):
        xy = (rng.randrange(64), rng.randrange(48))
        img.putpixel(xy, tuple(rng.randrange(256) for _ in range(3)))
    out = io.BytesIO()
    img.save(out, "JPEG", quality=90)
    return out.getvalue()


def upload(stack, data: bytes) -> str:
    resp = requests.post(
        f"{stack.ingest}/v1/media",
        data=data,
        timeout=30,
        headers={"Content-Type": "application/octet-stream", **stack.auth},
    )
    assert resp.status_code == 201, resp.text
    return resp.json()["uri"]


@dataclass
class Names:
    """Feeds of the test's own: a region, a channel (subject) and a source organisation."""

    region: str
    channel: str
    source: str

    @classmethod
    def fresh(cls, label: str) -> Names:
        tag = uuid.uuid4().hex[:8]
        return cls(f"{label}地区{tag}", f"{label}频道{tag}", f"{label}来源{tag}")

    def doc(self, **overrides) -> dict:
        return article(
            places=[{"name": self.region}],
            subjects=[{"name": self.channel}],
            infoSources=[{"name": self.source, "role": "originalSource"}],
            **overrides,
        )

    def feed_keys(self) -> list[str]:
        return ["all", f"region/{self.region}", f"channel/{self.channel}", f"source/{self.source}"]


def feed_url(stack, key: str, fmt: str) -> str:
    return f"{stack.feed}/feeds/{quote(key)}.{fmt}"


def channel_url(stack, key: str) -> str:
    return f"{stack.feed}/" if key == "all" else f"{stack.feed}/{quote(key)}"


def where_shown(stack, article_id: str, names: Names, pictures: list[str]) -> list[str]:
    """Every public output that shows the article (or one of its pictures, by URL)."""
    found = []
    marker = article_id.encode()
    page = requests.get(f"{stack.feed}/articles/{article_id}", timeout=10)
    if page.status_code == 200:
        found.append("page")
    for key in names.feed_keys():
        for fmt in FORMATS:
            resp = requests.get(feed_url(stack, key, fmt), timeout=10)
            if resp.status_code == 200 and marker in resp.content:
                found.append(f"feed {key}.{fmt}")
        resp = requests.get(channel_url(stack, key), timeout=10)
        if resp.status_code == 200 and marker in resp.content:
            found.append(f"channel page {key}")
    directory = requests.get(f"{stack.feed}/feeds", timeout=10).text
    opml = requests.get(f"{stack.feed}/feeds.opml", timeout=10).text
    for name in (names.region, names.channel, names.source):
        if name in directory:
            found.append(f"directory lists {name}")
        if name in opml:
            found.append(f"OPML lists {name}")
    for href in pictures:
        if requests.get(href, timeout=10).status_code == 200:
            found.append(f"picture {href}")
    return found


def everywhere(names: Names, pictures: list[str]) -> set[str]:
    shown = {"page"}
    for key in names.feed_keys():
        shown |= {f"feed {key}.{fmt}" for fmt in FORMATS} | {f"channel page {key}"}
    for name in (names.region, names.channel, names.source):
        shown |= {f"directory lists {name}", f"OPML lists {name}"}
    return shown | {f"picture {href}" for href in pictures}


def wait_shown_everywhere(stack, article_id, names, pictures, timeout: float = 60) -> float:
    """Seconds until the article is in every public output."""
    started = time.monotonic()
    want = everywhere(names, pictures)
    while True:
        shown = set(where_shown(stack, article_id, names, pictures))
        if shown == want:
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise AssertionError(f"not yet in: {sorted(want - shown)}")
        time.sleep(0.2)
