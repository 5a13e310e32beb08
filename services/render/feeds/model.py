"""What every feed format is written from."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote

from render import clean, view
from render.view import ArticleView


@dataclass(frozen=True)
class FeedView:
    key: str
    title: str
    description: str
    language: str | None
    home_url: str  # the channel page
    self_urls: dict[str, str]  # format -> this feed's URL in that format
    id_authority: str  # tag: URI authority and year, e.g. "news.example.org,2026"
    site: str
    base: str
    entries: list[ArticleView]
    hub_url: str | None = None  # the WebSub hub the feed names
    # RFC 5005: on a subscription document or an archive page, the next older archive page;
    # on an archive page, the subscription document. Format -> URL.
    prev_archive_urls: dict[str, str] | None = None
    current_urls: dict[str, str] | None = None
    # On an archive page once the next newer page exists: that page. Format -> URL.
    next_archive_urls: dict[str, str] | None = None

    def __post_init__(self) -> None:
        # The writers' own guard: a feed name comes from a stored region or source name, and
        # a writer must give well-formed XML and valid JSON whatever it is handed. Entries
        # (ArticleView) clean themselves.
        set_ = object.__setattr__
        set_(self, "key", clean.line(self.key))
        set_(self, "site", clean.line(self.site) or "newsflow")
        set_(self, "title", clean.line(self.title) or self.site)
        set_(self, "description", clean.text(self.description).strip() or self.title)
        set_(self, "language", clean.language(self.language) if self.language else None)
        set_(self, "id_authority", clean.line(self.id_authority))
        set_(self, "home_url", _url(self.home_url))
        set_(self, "hub_url", clean.http_url(self.hub_url))
        for name in ("self_urls", "prev_archive_urls", "current_urls", "next_archive_urls"):
            urls = getattr(self, name)
            if urls is not None:
                set_(self, name, {fmt: _url(u) for fmt, u in urls.items()})

    def content(self, entry: ArticleView) -> str:
        """The full sanitized body, pictures as plain ``<img>``, every URL absolute."""
        return entry.feed_html if entry.base == self.base else view.feed_content(entry, self.base)

    def summary(self, entry: ArticleView) -> str:
        return entry.summary_text

    @property
    def updated(self) -> datetime:
        # Moves only when an entry's content changes, so pollers see a stable feed.
        if not self.entries:
            return datetime(2000, 1, 1, tzinfo=UTC)
        return max(e.version_created for e in self.entries)

    def feed_id(self) -> str:
        # A tag URI is ASCII (RFC 4151 section 2.1: pchar from RFC 3986), so a CJK feed name
        # is percent-encoded as UTF-8; the W3C validator reports a raw one as InvalidTAG.
        return f"tag:{self.id_authority}:feed/{quote(self.key, safe='/')}"

    def entry_id(self, entry: ArticleView) -> str:
        # From the permanent article id, never its URL or headline: an update replaces the
        # entry in a reader instead of duplicating it (RFC 4151 tag: URIs).
        return f"tag:{self.id_authority}:article/{quote(entry.id, safe='')}"


def _url(value: object) -> str:
    # Ours (settings and feed keys), so never refused outright; http(s) and a URI when it can.
    return clean.http_url(value) or clean.text(value)
