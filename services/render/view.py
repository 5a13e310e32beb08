"""An article as pages and feeds show it: one pure view model, built from the stored document.

Both pages and feeds read from here, so a page and a feed entry never disagree about the
headline, the dates, the byline, the source or the rights.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property

from shared import keys

FIGURE = re.compile(r'<figure data-association="([A-Za-z0-9_-]{1,64})"></figure>')
URL_ATTR = re.compile(r'(\s(?:href|src)=")([^"]*)(")')


@dataclass(frozen=True)
class Image:
    key: str
    caption: str | None
    credit: str | None
    width: int
    height: int
    placeholder: str
    renditions: list[dict]  # ninjs renditions, href absolute

    def best(self, contenttype: str | None = None, max_width: int = 10**9) -> dict:
        pool = [
            r for r in self.renditions
            if r["name"] != "thumb" and (contenttype is None or r["contenttype"] == contenttype)
        ]  # fmt: skip
        fitting = [r for r in pool if r["width"] <= max_width] or pool
        return max(fitting, key=lambda r: r["width"])

    def fallback_type(self) -> str:
        return (
            "image/png"
            if any(r["contenttype"] == "image/png" for r in self.renditions)
            else "image/jpeg"
        )

    def srcset(self, contenttype: str) -> str:
        return ", ".join(
            f"{r['href']} {r['width']}w"
            for r in self.renditions
            if r["contenttype"] == contenttype and not r["name"].startswith("thumb")
        )

    def thumb(self) -> dict | None:
        return next(
            (
                r
                for r in self.renditions
                if r["name"].startswith("thumb") and r["contenttype"] != "image/webp"
            ),
            None,
        )


@dataclass(frozen=True)
class ArticleView:
    id: str
    version: int
    url: str
    headline: str
    language: str
    first_created: datetime
    version_created: datetime
    by: str | None
    body_html: str  # sanitized, figures not yet filled
    regions: list[str]
    subjects: list[str]
    source_name: str | None
    original_link: str | None
    publisher: str | None
    contacts: list[dict]
    rights: str | None
    usage_terms: str | None
    recommended: dict | None
    images: dict[str, Image] = field(default_factory=dict)
    image_order: list[str] = field(default_factory=list)
    base: str = ""  # the public base URL its URLs were made absolute with

    # Made once per view: every feed format of a rebuild uses the same strings.
    @cached_property
    def feed_html(self) -> str:
        return feed_content(self, self.base)

    @cached_property
    def summary_text(self) -> str:
        return summary(self)

    @property
    def lead_image(self) -> Image | None:
        return self.images[self.image_order[0]] if self.image_order else None

    @property
    def is_cjk(self) -> bool:
        return self.language.lower().startswith(("zh", "ja", "ko"))

    @property
    def categories(self) -> list[str]:
        return self.regions + self.subjects


def absolute(base: str, href: str) -> str:
    if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", href) or href.startswith("//"):
        return href
    return f"{base}/{href.lstrip('/')}"


def article_url(base: str, article_id: str) -> str:
    return f"{base}/articles/{article_id}"


def feed_url(base: str, feed_key: str, fmt: str) -> str:
    return f"{base}{keys.feed_path(feed_key, fmt)}"


def build(
    row_id: str, version: int, doc: dict, media: dict, first_created: datetime, base: str
) -> ArticleView:
    sources = doc.get("infoSources", [])
    original = next((s for s in sources if s.get("role", "originalSource") == "originalSource"), {})
    publisher = next((s for s in sources if s.get("role") == "publisher"), {})
    images = {}
    order = []
    for key in FIGURE.findall(doc["bodies"][0]["value"]) + list(doc.get("associations", {})):
        info = media.get(key) or {}
        if key in images or info.get("status") != "ok":
            continue
        assoc = doc["associations"].get(key, {})
        images[key] = Image(
            key=key,
            caption=assoc.get("description") or assoc.get("headline"),
            credit=assoc.get("creditline"),
            width=info["width"],
            height=info["height"],
            placeholder=info.get("placeholder", "#ccc"),
            renditions=[{**r, "href": absolute(base, r["href"])} for r in info["renditions"]],
        )
        order.append(key)
    main_headline = next(
        (h["value"] for h in doc["headlines"] if h.get("role") == "main"),
        doc["headlines"][0]["value"],
    )
    return ArticleView(
        base=base,
        id=row_id,
        version=version,
        url=article_url(base, row_id),
        headline=main_headline,
        language=doc["language"],
        first_created=datetime.fromisoformat(doc.get("firstCreated") or first_created.isoformat()),
        version_created=datetime.fromisoformat(doc["versionCreated"]),
        by=doc.get("by"),
        body_html=next(
            (b["value"] for b in doc["bodies"] if b.get("role") == "main"),
            doc["bodies"][0]["value"],
        ),
        regions=[p["name"] for p in doc.get("places", [])],
        subjects=[s["name"] for s in doc.get("subjects", [])],
        source_name=original.get("name"),
        original_link=original.get("uri") or doc.get("uri"),
        publisher=publisher.get("name"),
        contacts=publisher.get("contactInfo", []),
        rights=doc.get("copyrightNotice"),
        usage_terms=doc.get("usageTerms"),
        recommended=doc.get("recommended"),
        images=images,
        image_order=order,
    )


def absolutize(fragment: str, base: str) -> str:
    """Every href/src made absolute: feed readers resolve nothing (a W3C validator warning)."""
    return URL_ATTR.sub(
        lambda m: m.group(1) + html.escape(absolute(base, html.unescape(m.group(2)))) + m.group(3),
        fragment,
    )


def _feed_figure(image: Image | None) -> str:
    if image is None:
        return ""
    r = image.best(image.fallback_type(), max_width=1024)
    alt = html.escape(image.caption or "")
    caption = f"<figcaption>{html.escape(image.caption)}</figcaption>" if image.caption else ""
    return (
        f'<figure><img src="{html.escape(r["href"])}" width="{r["width"]}" '
        f'height="{r["height"]}" alt="{alt}">{caption}</figure>'
    )


def feed_content(view: ArticleView, base: str) -> str:
    """The full body for a feed entry: pictures as plain <img> at one size, URLs absolute."""
    body = FIGURE.sub(lambda m: _feed_figure(view.images.get(m.group(1))), view.body_html)
    return absolutize(body, base)


def summary(view: ArticleView, limit: int = 160) -> str:
    text = re.sub(r"<figure.*?</figure>|<h[2-6]>.*?</h[2-6]>", " ", view.body_html, flags=re.S)
    text = html.unescape(re.sub(r"<[^>]+>", " ", text))
    text = re.sub(r"\s+", " ", text).strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
