"""Atom 1.0 (RFC 4287) with feedgen, avoiding its known traps (see docs/feeds.md)."""

from __future__ import annotations

from feedgen.feed import FeedGenerator
from lxml import etree

from render.feeds import history
from render.feeds.media import enclosure
from render.feeds.model import FeedView


def render(feed: FeedView) -> bytes:
    fg = FeedGenerator()
    fg.id(feed.feed_id())
    fg.title(feed.title)
    fg.subtitle(feed.description)
    fg.updated(feed.updated)
    fg.author({"name": feed.site})  # RFC 4287 4.1.1: an author at feed level covers all entries
    fg.link(href=feed.self_urls["atom"], rel="self", type="application/atom+xml")
    fg.link(href=feed.home_url, rel="alternate", type="text/html")
    if feed.hub_url:
        fg.link(href=feed.hub_url, rel="hub")
    if feed.language:
        fg.language(feed.language)
    fg.generator("newsflow")
    for entry in feed.entries:
        fe = fg.add_entry(order="append")
        fe.id(feed.entry_id(entry))
        fe.title(entry.headline)
        fe.published(entry.first_created)
        fe.updated(entry.version_created)
        if entry.by:
            fe.author({"name": entry.by})
        for term in entry.categories:
            fe.category(term=term, label=term)
        fe.content(feed.content(entry), type="html")
        fe.summary(feed.summary(entry))
        if entry.rights:
            fe.rights(entry.rights)
    return _with_entry_links(fg.atom_str(pretty=False, encoding="UTF-8"), feed)


def _entry_links(entry) -> list[dict[str, str]]:
    links = [{"href": entry.url, "rel": "alternate", "type": "text/html"}]
    if entry.original_link:
        links.append({"href": entry.original_link, "rel": "related", "type": "text/html"})
    lead = enclosure(entry)
    if lead:
        links.append(
            {
                "href": lead["url"],
                "rel": "enclosure",
                "type": lead["type"],
                "length": lead["length"],
            }
        )
    return links


def _with_entry_links(xml: bytes, feed: FeedView) -> bytes:
    # feedgen 1.0 drops rel/type from entry links (its loop variable shadows the link dict),
    # which turns every link into a second rel="alternate": a validator error. We add the
    # links ourselves, right after each entry's <title>.
    root = etree.fromstring(xml)
    ns = "{http://www.w3.org/2005/Atom}"
    for element, entry in zip(root.iter(f"{ns}entry"), feed.entries, strict=True):
        # xml:lang per entry: a feed mixes Chinese and English articles.
        element.set("{http://www.w3.org/XML/1998/namespace}lang", entry.language)
        at = list(element).index(element.find(f"{ns}title")) + 1
        for i, attrs in enumerate(_entry_links(entry)):
            element.insert(at + i, etree.Element(f"{ns}link", attrs))
    history.add(root, feed, "atom")
    etree.cleanup_namespaces(root, top_nsmap={"fh": history.FH})
    etree.indent(root, space="  ")
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")
