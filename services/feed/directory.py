"""``/feeds``: every feed we publish, as a page and as OPML 2.0 (for importing into readers)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from email.utils import formatdate

from flask import Blueprint, Flask, Response, current_app, render_template
from sqlalchemy import func, select

from shared import keys
from shared.models import FeedEntry

bp = Blueprint("directory", __name__, template_folder="templates")

KIND_TITLES = {"all": "全部 · All", "region": "地区 · Regions", "source": "来源 · Sources",
               "channel": "频道 · Channels"}  # fmt: skip


@dataclass(frozen=True)
class Listed:
    key: str
    kind: str
    name: str
    count: int
    base: str

    def url(self, fmt: str) -> str:
        return f"{self.base}{keys.feed_path(self.key, fmt)}"

    @property
    def page(self) -> str:
        return f"{self.base}{keys.channel_path(self.key)}"


def listed_feeds() -> list[Listed]:
    ctx = current_app.extensions["newsflow"]
    base = ctx.settings.public_base_url
    with ctx.sessions() as session:
        rows = session.execute(
            select(FeedEntry.feed_key, func.count())
            .group_by(FeedEntry.feed_key)
            .order_by(FeedEntry.feed_key)
        ).all()
    out = []
    for key, count in rows:
        kind, _, name = key.partition("/")
        out.append(Listed(key, kind, name or ctx.settings.feed_title, count, base))
    return sorted(out, key=lambda f: (f.key != keys.FEED_ALL, f.kind, f.name))


@bp.get("/feeds")
def page():
    feeds = listed_feeds()
    groups = {kind: [f for f in feeds if f.kind == kind] for kind in KIND_TITLES}
    ctx = current_app.extensions["newsflow"]
    return render_template(
        "feeds.html", groups=groups, titles=KIND_TITLES, site=ctx.settings.feed_title,
        base=ctx.settings.public_base_url,
    )  # fmt: skip


@bp.get("/feeds.opml")
def opml():
    ctx = current_app.extensions["newsflow"]
    root = ET.Element("opml", version="2.0")
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = f"{ctx.settings.feed_title} feeds"
    ET.SubElement(head, "dateCreated").text = formatdate(usegmt=True)
    body = ET.SubElement(root, "body")
    for feed in listed_feeds():
        title = feed.name if feed.key == keys.FEED_ALL else f"{feed.name} ({feed.kind})"
        ET.SubElement(
            body, "outline", type="rss", text=title, title=title,
            xmlUrl=feed.url("atom"), htmlUrl=feed.page,
        )  # fmt: skip
    ET.indent(root)
    data = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return Response(data, content_type="text/x-opml; charset=utf-8")


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
