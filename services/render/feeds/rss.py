"""RSS 2.0 with feedgen: content:encoded for the full HTML, dc:creator and dc:rights, the lead
picture as an enclosure and every picture in Media RSS."""

from __future__ import annotations

from feedgen.feed import FeedGenerator

from render.feeds.media import add_media_rss, enclosure
from render.feeds.model import FeedView
from shared import keys


def render(feed: FeedView) -> bytes:
    fg = FeedGenerator()
    fg.load_extension("dc", atom=False, rss=True)
    fg.title(feed.title)
    fg.description(feed.description)
    # feedgen's RSS <link> is the last link given: self first, so the channel links home.
    fg.link(href=feed.self_urls["rss"], rel="self", type="application/rss+xml")
    fg.link(href=feed.home_url, rel="alternate")
    if feed.language:
        fg.language(feed.language)
    fg.lastBuildDate(feed.updated)
    fg.generator("newsflow")
    fg.ttl(max(1, keys.FEED_MAX_AGE // 60))  # agrees with the feed service's Cache-Control
    for entry in feed.entries:
        fe = fg.add_entry(order="append")
        fe.guid(feed.entry_id(entry), permalink=False)
        fe.title(entry.headline)
        fe.link(href=entry.url)
        fe.pubDate(entry.first_created)
        fe.description(feed.summary(entry))
        fe.content(feed.content(entry), type="CDATA")
        if entry.by:
            fe.dc.dc_creator(entry.by)
        if entry.rights:
            fe.dc.dc_rights(entry.rights)
        if entry.original_link:
            fe.source(url=entry.original_link, title=entry.source_name or entry.original_link)
        for term in entry.categories:
            fe.category(term=term)
        lead = enclosure(entry)
        if lead:
            fe.enclosure(**lead)
    return add_media_rss(fg.rss_str(encoding="UTF-8"), feed)
