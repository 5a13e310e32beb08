"""HTML pages: the article page and channel (feed) pages. Pure: view models in, HTML out."""

from __future__ import annotations

import html
from dataclasses import dataclass

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from render import clean
from render.view import FIGURE, ArticleView, Image, absolutize

LABELS = {
    "zh": {
        "by": "作者",
        "source": "来源",
        "link": "原文链接",
        "rights": "版权声明",
        "phone": "电话",
        "email": "邮箱",
        "regions": "地区",
        "published": "发布",
        "updated": "更新",
        "feeds": "订阅",
    },
    "en": {
        "by": "By",
        "source": "Source",
        "link": "Original article",
        "rights": "Rights",
        "phone": "Phone",
        "email": "E-mail",
        "regions": "Regions",
        "published": "Published",
        "updated": "Updated",
        "feeds": "Subscribe",
    },
}

SIZES = "(max-width: 720px) 100vw, 720px"


@dataclass(frozen=True)
class FeedLink:
    title: str
    href: str
    type: str


def make_env() -> Environment:
    env = Environment(
        loader=PackageLoader("render", "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env


def picture_html(image: Image, eager: bool) -> str:
    fallback_type = image.fallback_type()
    fallback = image.best(fallback_type, max_width=1024)
    alt = html.escape(image.caption or "")
    loading = 'fetchpriority="high"' if eager else 'loading="lazy" decoding="async"'
    sources = "".join(
        f'<source type="{t}" srcset="{html.escape(image.srcset(t))}" sizes="{SIZES}">'
        for t in ("image/avif", "image/webp")
        if image.srcset(t)
    )
    caption = f"<figcaption>{html.escape(image.caption)}</figcaption>" if image.caption else ""
    return (
        f'<figure class="picture"><picture>{sources}'
        f'<img src="{html.escape(fallback["href"])}" '
        f'srcset="{html.escape(image.srcset(fallback_type))}" '
        f'sizes="{SIZES}" width="{image.width}" height="{image.height}" alt="{alt}" {loading} '
        f'style="background:{image.placeholder}"></picture>{caption}</figure>'
    )


def body_html(view: ArticleView, base: str) -> Markup:
    first = view.image_order[0] if view.image_order else None

    def fill(match) -> str:
        image = view.images.get(match.group(1))
        return picture_html(image, eager=match.group(1) == first) if image else ""

    # The body was sanitized with an allowlist before it was stored (ingest.sanitize).
    return Markup(absolutize(FIGURE.sub(fill, view.body_html), base))  # noqa: S704


def safe_links(feeds: list[FeedLink]) -> list[FeedLink]:
    """Feed links as a page shows them: http(s) only, titles as text."""
    out = []
    for f in feeds:
        href = clean.http_url(f.href)
        if href:
            out.append(FeedLink(clean.line(f.title), href, clean.line(f.type)))
    return out


def render_article(
    env: Environment, view: ArticleView, base: str, feeds: list[FeedLink], site: str
) -> str:
    labels = LABELS["zh" if view.is_cjk else "en"]
    page = env.get_template("article.html").render(
        a=view,
        body=body_html(view, base),
        feeds=safe_links(feeds),
        labels=labels,
        base=base,
        site=clean.line(site),
    )
    return clean.text(page)  # the last guard: nothing XML or HTML calls an error


def render_channel(
    env: Environment,
    title: str,
    views: list[ArticleView],
    feeds: list[FeedLink],
    base: str,
    site: str,
) -> str:
    page = env.get_template("channel.html").render(
        title=clean.line(title),
        items=views,
        feeds=safe_links(feeds),
        base=base,
        site=clean.line(site),
    )
    return clean.text(page)
