"""Feeds: one view model (FeedView), one writer per format, all of the same shape:
``render(feed: FeedView) -> bytes``; ``write_all`` runs every writer over a feed."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import NamedTuple

from render.feeds import atom, jsonfeed, rss
from render.feeds.model import FeedView
from render.view import ArticleView

Writer = Callable[[FeedView], bytes]
WRITERS: dict[str, Writer] = {"rss": rss.render, "atom": atom.render, "json": jsonfeed.render}
CONTENT_TYPES = {
    "rss": "application/rss+xml; charset=utf-8",
    "atom": "application/atom+xml; charset=utf-8",
    "json": "application/feed+json; charset=utf-8",
}


class Left(NamedTuple):
    """An entry a writer could not write, and why."""

    entry: ArticleView
    reason: str


class Written(NamedTuple):
    docs: dict[str, bytes]  # format -> bytes
    feed: FeedView  # the feed as written: without the entries left out
    left_out: list[Left]


def write_all(feed: FeedView, writers: dict[str, Writer] = WRITERS) -> Written:
    """Every format of ``feed``. One entry no writer can write must not stop the feed (nor,
    for the all-articles feed, every feed for as long as it is among the newest): it is left
    out of every format, so the formats agree, and named in ``left_out``.

    The whole feed is written once per format; only when a writer raises are the entries
    written one at a time by that writer to find the ones that fail alone. An error no
    single entry causes is the feed's own and is raised."""
    left: list[Left] = []
    while True:
        try:
            return Written({fmt: write(feed) for fmt, write in writers.items()}, feed, left)
        except Exception:  # any writer error: the culprits are looked for next
            culprits = _culprits(feed, writers)
            if not culprits:
                raise
            left += culprits
            bad = {id(c.entry) for c in culprits}
            entries = [e for e in feed.entries if id(e) not in bad]
            feed = dataclasses.replace(feed, entries=entries)


def _culprits(feed: FeedView, writers: dict[str, Writer]) -> list[Left]:
    out = []
    for entry in feed.entries:
        alone = dataclasses.replace(feed, entries=[entry])
        for fmt, write in writers.items():
            try:
                write(alone)
            except Exception as exc:  # the reason is recorded on the article
                out.append(Left(entry, f"{fmt}: {type(exc).__name__}: {exc}"))
                break
    return out


__all__ = ["CONTENT_TYPES", "WRITERS", "FeedView", "Left", "Written", "write_all"]
