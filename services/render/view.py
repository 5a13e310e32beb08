"""An article as pages and feeds show it: one pure view model, built from the stored document.

Both pages and feeds read from here, so a page and a feed entry never disagree about the
headline, the dates, the byline, the source or the rights.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from urllib.parse import quote

from render import clean
from render.clean import absolute, absolutize
from shared import keys

FIGURE = re.compile(r'<figure data-association="([A-Za-z0-9_-]{1,64})"></figure>')
_PLACEHOLDER = re.compile(r"^#[0-9A-Fa-f]{3,8}$")
_CONTENTTYPE = re.compile(r"^image/[a-z0-9.+-]{1,40}$")
HEADLINE_FALLBACK_LENGTH = 60

__all__ = ["FIGURE", "ArticleView", "Contact", "Image", "Link", "Recommended", "absolute",
           "absolutize", "article_url", "build", "feed_content", "feed_url", "summary"]  # fmt: skip


def _set(obj: object, name: str, value: object) -> None:
    object.__setattr__(obj, name, value)  # frozen dataclasses: only __post_init__ sets


def _rendition(r: object, base: str) -> dict | None:
    """A rendition fit to show, or None: its URL ours and http(s), its numbers numbers."""
    if not isinstance(r, dict):
        return None
    href, contenttype, name = r.get("href"), r.get("contenttype"), r.get("name")
    href = clean.http_url(href) if isinstance(href, str) else None
    contenttype = contenttype if isinstance(contenttype, str) else ""
    try:
        sizes = {k: int(r.get(k) or 0) for k in ("width", "height", "sizeinbytes")}
    except (TypeError, ValueError):
        return None
    if href is None or not clean.own(href, base) or not _CONTENTTYPE.match(contenttype):
        return None
    # The name is never shown, only compared ("thumb"); the rest is checked above.
    name = name if isinstance(name, str) else ""
    return {**r, "name": name, "href": href, "contenttype": contenttype, **sizes}


@dataclass(frozen=True)
class Image:
    key: str
    caption: str | None
    credit: str | None
    width: int
    height: int
    placeholder: str
    renditions: list[dict]  # ninjs renditions, href absolute
    base: str = ""  # renditions not under it are dropped: pages load nothing third-party

    def __post_init__(self) -> None:
        _set(self, "caption", clean.text(self.caption).strip() or None)
        _set(self, "credit", clean.text(self.credit).strip() or None)
        _set(self, "width", int(self.width))
        _set(self, "height", int(self.height))
        placeholder = self.placeholder if isinstance(self.placeholder, str) else ""
        _set(self, "placeholder", placeholder if _PLACEHOLDER.match(placeholder) else "#ccc")
        kept = [_rendition(r, self.base) for r in self.renditions or []]
        _set(self, "renditions", [r for r in kept if r is not None])

    @property
    def showable(self) -> bool:
        """Whether a picture can be shown: a rendition other than the thumbnail is left."""
        return any(r["name"] != "thumb" for r in self.renditions)

    def best(self, contenttype: str | None = None, max_width: int = 10**9) -> dict:
        pool = [
            r for r in self.renditions
            if r["name"] != "thumb" and (contenttype is None or r["contenttype"] == contenttype)
        ]  # fmt: skip
        fitting = [r for r in pool if r["width"] <= max_width] or pool
        return max(fitting, key=lambda r: r["width"])

    def fallback_type(self) -> str:
        types = [r["contenttype"] for r in self.renditions if r["name"] != "thumb"]
        if "image/png" in types:
            return "image/png"
        return "image/jpeg" if "image/jpeg" in types or not types else types[0]

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
class Contact:
    type: str
    value: str
    href: str | None = None  # mailto: for a plausible e-mail address, http(s) for the web

    @classmethod
    def of(cls, raw: object) -> Contact | None:
        if isinstance(raw, Contact):
            raw = {"type": raw.type, "value": raw.value}
        if not isinstance(raw, dict):
            return None
        kind, value = clean.line(raw.get("type")), clean.line(raw.get("value"))
        if not clean.visible(value):
            return None
        href = {"email": clean.mailto, "web": clean.http_url}.get(kind, lambda _: None)(value)
        return cls(kind, value, href)


@dataclass(frozen=True)
class Link:
    headline: str
    uri: str | None  # http(s) only; a refused URL leaves the headline as text


@dataclass(frozen=True)
class Recommended:
    heading: str
    items: list[Link]

    @classmethod
    def of(cls, raw: object) -> Recommended | None:
        if isinstance(raw, Recommended):
            items = [{"headline": i.headline, "uri": i.uri} for i in raw.items]
            raw = {"heading": raw.heading, "items": items}
        if not isinstance(raw, dict):
            return None
        items = []
        for item in raw.get("items") or []:
            item = item if isinstance(item, dict) else {}
            uri = clean.http_url(item.get("uri"))
            headline = clean.line(item.get("headline"))
            headline = headline if clean.visible(headline) else (uri or "")
            if headline:
                items.append(Link(headline, uri))
        heading = clean.line(raw.get("heading"))
        return cls(heading, items) if heading or items else None


def _when(value: object) -> datetime:
    if not isinstance(value, datetime):
        raise TypeError(f"not a datetime: {value!r}")
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@dataclass(frozen=True)
class ArticleView:
    """Safe by construction: __post_init__ cleans every field, so pages and feeds never show a
    value the view has not checked, however the view was made."""

    id: str
    version: int
    url: str
    headline: str
    language: str
    first_created: datetime
    version_created: datetime
    by: str | None
    body_html: str  # allowlisted again, URLs absolute, no third-party image; figures unfilled
    regions: list[str]
    subjects: list[str]
    source_name: str | None
    original_link: str | None  # http(s) only, or None
    publisher: str | None
    contacts: list[Contact]
    rights: str | None
    usage_terms: str | None
    recommended: Recommended | None
    images: dict[str, Image] = field(default_factory=dict)
    image_order: list[str] = field(default_factory=list)
    base: str = ""  # the public base URL its URLs were made absolute with
    # The original link as given, shown as text when it is no link a reader may follow.
    original_link_text: str | None = None

    def __post_init__(self) -> None:
        _set(self, "id", clean.line(self.id))
        _set(self, "version", int(self.version))
        _set(self, "url", clean.http_url(self.url) or article_url(self.base, quote(self.id)))
        _set(self, "language", clean.language(self.language))
        _set(self, "first_created", _when(self.first_created))
        _set(self, "version_created", _when(self.version_created))
        for name in ("by", "source_name", "publisher"):
            _set(self, name, _visible_or_none(clean.line(getattr(self, name))))
        for name in ("rights", "usage_terms"):
            _set(self, name, _visible_or_none(clean.text(getattr(self, name)).strip()))
        _set(self, "body_html", clean.body(self.body_html, self.base))
        for name in ("regions", "subjects"):
            names = [clean.line(n) for n in getattr(self, name) or []]
            _set(self, name, [n for n in names if clean.visible(n)])
        link_text = clean.line(self.original_link_text or self.original_link)
        _set(self, "original_link_text", link_text or None)
        _set(self, "original_link", clean.http_url(self.original_link))
        contacts = [Contact.of(c) for c in self.contacts or []]
        _set(self, "contacts", [c for c in contacts if c is not None])
        _set(self, "recommended", Recommended.of(self.recommended))
        images = {k: i for k, i in (self.images or {}).items() if isinstance(i, Image)}
        images = {k: _rebased(i, self.base) for k, i in images.items()}
        _set(self, "images", {k: i for k, i in images.items() if i.showable})
        _set(self, "image_order", [k for k in dict.fromkeys(self.image_order) if k in self.images])
        headline = clean.line(self.headline)
        _set(self, "headline", headline if clean.visible(headline) else self._fallback_headline())

    def _fallback_headline(self) -> str:
        """Atom needs a title (RFC 4287 4.1.2) and a reader needs something to click: the
        summary's start, else the article id."""
        start = summary(self, HEADLINE_FALLBACK_LENGTH)
        return start if clean.visible(start) else self.id or "untitled"

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


def _visible_or_none(value: str) -> str | None:
    return value if clean.visible(value) else None


def _rebased(image: Image, base: str) -> Image:
    # An image made without the view's base is checked against it (a no-op when it was).
    return image if image.base == base else Image(**{**image.__dict__, "base": base})


def article_url(base: str, article_id: str) -> str:
    return f"{base}/articles/{article_id}"


def feed_url(base: str, feed_key: str, fmt: str) -> str:
    # keys.feed_path percent-encodes any stored name, a lone surrogate included, so the
    # URL names exactly the feed the fast path maps it back to.
    return f"{base}{keys.feed_path(feed_key, fmt)}"


def _dict(value: object) -> dict:
    return value if isinstance(value, dict) else {}


def _list(value: object) -> list:
    return value if isinstance(value, list) else []


def _names(items: object) -> list[str]:
    return [_dict(i).get("name") for i in _list(items) if isinstance(_dict(i).get("name"), str)]


def _main(items: object) -> str:
    values = [_dict(i) for i in _list(items)]
    first = values[0] if values else {}
    chosen = next((v for v in values if v.get("role", "main") == "main"), first)
    value = chosen.get("value")
    return value if isinstance(value, str) else ""


def _iso(value: object) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _image(key: str, info: dict, assoc: dict, base: str) -> Image | None:
    try:
        return Image(
            key=key,
            caption=assoc.get("description") or assoc.get("headline"),
            credit=assoc.get("creditline"),
            width=info["width"],
            height=info["height"],
            placeholder=info.get("placeholder", "#ccc"),
            renditions=[
                {**r, "href": absolute(base, r["href"])}
                for r in _list(info.get("renditions"))
                if isinstance(r, dict) and isinstance(r.get("href"), str) and r["href"]
            ],
            base=base,
        )
    except (KeyError, TypeError, ValueError):
        return None  # a broken manifest: the article shows without this picture


def build(
    row_id: str, version: int, doc: dict, media: dict, first_created: datetime, base: str
) -> ArticleView:
    """The view of a stored document. Every value is cleaned by ArticleView itself; here a
    missing or mistyped part of the document is read as absent instead of failing."""
    sources = [_dict(s) for s in _list(doc.get("infoSources"))]
    original = next((s for s in sources if s.get("role", "originalSource") == "originalSource"), {})
    publisher = next((s for s in sources if s.get("role") == "publisher"), {})
    associations, media = _dict(doc.get("associations")), _dict(media)
    body = _main(doc.get("bodies"))
    images, order = {}, []
    for key in FIGURE.findall(body) + list(associations):
        info = _dict(media.get(key))
        if key in images or info.get("status") != "ok":
            continue
        image = _image(key, info, _dict(associations.get(key)), base)
        if image is not None:
            images[key] = image
            order.append(key)
    link = original.get("uri") or doc.get("uri")
    first = _iso(doc.get("firstCreated")) or first_created
    return ArticleView(
        base=base,
        id=row_id,
        version=version,
        url=article_url(base, row_id),
        headline=_main(doc.get("headlines")),
        language=doc.get("language"),
        first_created=first,
        version_created=_iso(doc.get("versionCreated")) or first,
        by=doc.get("by"),
        body_html=body,
        regions=_names(doc.get("places")),
        subjects=_names(doc.get("subjects")),
        source_name=original.get("name"),
        original_link=link if isinstance(link, str) else None,
        publisher=publisher.get("name"),
        contacts=_list(publisher.get("contactInfo")),
        rights=doc.get("copyrightNotice"),
        usage_terms=doc.get("usageTerms"),
        recommended=doc.get("recommended"),
        images=images,
        image_order=order,
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
    # Another base (a test, a preview): the body is clean already, only its URLs move.
    return body if base == view.base else absolutize(body, base)


def summary(view: ArticleView, limit: int = 160) -> str:
    text = re.sub(r"<figure.*?</figure>|<h[2-6]>.*?</h[2-6]>", " ", view.body_html, flags=re.S)
    text = html.unescape(re.sub(r"<[^>]+>", " ", text))
    text = re.sub(r"\s+", " ", clean.text(text)).strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
