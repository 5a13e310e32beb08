"""Feed history (RFC 5005, Archived Feeds, section 4): a subscription document links to the
newest archive page with ``prev-archive``; each archive page links to the one before it and to
the subscription document (``current``) and says it is an archive (``fh:archive``); once the
next newer page exists, a page links it too (``next-archive``, added once). Archive pages'
entries never change once written, so a reader can backfill everything and cache it forever.
"""

from __future__ import annotations

from lxml import etree

from render.feeds.model import FeedView

FH = "http://purl.org/syndication/history/1.0"
ATOM = "http://www.w3.org/2005/Atom"


def links(feed: FeedView, fmt: str) -> list[dict[str, str]]:
    out = []
    if feed.current_urls:
        out.append({"rel": "current", "href": feed.current_urls[fmt]})
    if feed.prev_archive_urls:
        out.append({"rel": "prev-archive", "href": feed.prev_archive_urls[fmt]})
    if feed.next_archive_urls:
        out.append({"rel": "next-archive", "href": feed.next_archive_urls[fmt]})
    return out


def add(parent: etree._Element, feed: FeedView, fmt: str) -> None:
    """History links (as atom:link) after the self link, and fh:archive on archive pages."""
    self_link = parent.find(f"{{{ATOM}}}link[@rel='self']")
    at = list(parent).index(self_link) + 1 if self_link is not None else 0
    extra = [etree.Element(f"{{{ATOM}}}link", attrs) for attrs in links(feed, fmt)]
    if feed.current_urls:
        extra.append(etree.Element(f"{{{FH}}}archive"))
    for i, element in enumerate(extra):
        parent.insert(at + i, element)
