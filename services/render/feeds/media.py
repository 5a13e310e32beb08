"""Pictures in feeds: the lead image as an enclosure, and Media RSS for every picture.

feedgen's media extension has no media:credit or media:copyright, so Media RSS is added to
the finished document with lxml; the same pass adds the WebSub hub link (RFC-less but W3C
WebSub 4: ``<atom:link rel="hub">``).
"""

from __future__ import annotations

from lxml import etree

from render.feeds import history
from render.feeds.model import FeedView
from render.view import ArticleView, Image

MRSS = "http://search.yahoo.com/mrss/"
ATOM = "http://www.w3.org/2005/Atom"
ENCLOSURE_MAX_WIDTH = 1024


def enclosure(entry: ArticleView) -> dict[str, str] | None:
    """The lead picture at a feed-reader size, with its real byte length."""
    lead = entry.lead_image
    if lead is None:
        return None
    r = lead.best(lead.fallback_type(), max_width=ENCLOSURE_MAX_WIDTH)
    return {"url": r["href"], "length": str(r["sizeinbytes"]), "type": r["contenttype"]}


def _media_content(parent, image: Image, rights: str | None) -> None:
    r = image.best(image.fallback_type(), max_width=ENCLOSURE_MAX_WIDTH)
    attrs = {
        "url": r["href"],
        "type": r["contenttype"],
        "medium": "image",
        "width": str(r["width"]),
        "height": str(r["height"]),
        "fileSize": str(r["sizeinbytes"]),
    }
    content = etree.SubElement(parent, f"{{{MRSS}}}content", attrs)
    if image.caption:
        etree.SubElement(content, f"{{{MRSS}}}description", {"type": "plain"}).text = image.caption
    if image.credit:
        etree.SubElement(content, f"{{{MRSS}}}credit").text = image.credit
    if rights:
        etree.SubElement(content, f"{{{MRSS}}}copyright").text = rights
    thumb = image.thumb()
    if thumb:
        etree.SubElement(
            content,
            f"{{{MRSS}}}thumbnail",
            {"url": thumb["href"], "width": str(thumb["width"]), "height": str(thumb["height"])},
        )


def add_media_rss(xml: bytes, feed: FeedView) -> bytes:
    entries, hub = feed.entries, feed.hub_url
    root = etree.fromstring(xml)
    channel = root.find("channel")
    history.add(channel, feed, "rss")
    if hub:
        self_link = channel.find(f"{{{ATOM}}}link[@rel='self']")
        at = list(channel).index(self_link) + 1 if self_link is not None else 0
        channel.insert(at, etree.Element(f"{{{ATOM}}}link", {"href": hub, "rel": "hub"}))
    for item, entry in zip(channel.iter("item"), entries, strict=True):
        for key in entry.image_order:
            _media_content(item, entry.images[key], entry.rights)
    etree.cleanup_namespaces(root, top_nsmap={"media": MRSS, "atom": ATOM, "fh": history.FH})
    etree.indent(root, space="  ")
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")
