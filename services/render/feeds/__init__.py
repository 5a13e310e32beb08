"""Feeds: one view model (FeedView), one writer per format, all of the same shape:
``render(feed: FeedView) -> bytes``."""

from render.feeds import atom, jsonfeed, rss
from render.feeds.model import FeedView

WRITERS = {"rss": rss.render, "atom": atom.render, "json": jsonfeed.render}
CONTENT_TYPES = {
    "rss": "application/rss+xml; charset=utf-8",
    "atom": "application/atom+xml; charset=utf-8",
    "json": "application/feed+json; charset=utf-8",
}

__all__ = ["CONTENT_TYPES", "WRITERS", "FeedView"]
