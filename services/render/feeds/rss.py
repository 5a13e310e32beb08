"""RSS 2.0 with feedgen: content:encoded for the full HTML, dc:creator and dc:rights."""

from __future__ import annotations

from feedgen.feed import FeedGenerator

from render.feeds.model import FeedView
from render.view import feed_content, summary
from shared import keys


def render(feed: FeedView) -> bytes:
    fg = FeedGenerator()
    fg.load_extension("dc", atom=False, rss=True)
    fg.title(feed.title)
    fg.description(feed.description)
    fg.link(href=feed.home_url, rel="alternate")
    fg.link(href=feed.self_urls["rss"], rel="self", type="application/rss+xml")
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
        fe.description(summary(entry))
        fe.content(feed_content(entry, feed.base), type="CDATA")
        if entry.by:
            fe.dc.dc_creator(entry.by)
        if entry.rights:
            fe.dc.dc_rights(entry.rights)
        if entry.original_link:
            fe.source(url=entry.original_link, title=entry.source_name or entry.original_link)
        for term in entry.categories:
            fe.category(term=term)
    return fg.rss_str(pretty=True, encoding="UTF-8")
