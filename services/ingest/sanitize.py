"""The body HTML policy: refuse active content outright, then keep only an allowlist.

Refusing (not silently stripping) ``<script>``, event handlers and ``javascript:`` URLs tells a
sender that something hostile or broken is upstream; everything else outside the allowlist is
dropped by nh3 (ammonia), which also normalizes the markup.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import nh3

from shared.htmlpolicy import ATTRIBUTES, TAGS, URL_SCHEMES
from shared.schema import UNFIT

ACTIVE_TAGS = {"script", "iframe", "object", "embed", "frame", "frameset", "applet", "base", "form"}
_JS_URL = re.compile(r"^[\x00-\x20]*(javascript|vbscript)\s*:", re.IGNORECASE)
# A browser removes every tab and line break from a URL before reading its scheme (WHATWG URL),
# so "java\tscript:" runs as javascript: and must be refused like it.
_URL_IGNORED = re.compile("[\t\n\r]")
URL_ATTRIBUTES = {
    "href",
    "src",
    "action",
    "formaction",
    "xlink:href",
    "data",
    "poster",
    "background",
}


class ActiveContent(ValueError):
    """The body carries something executable; the message says what and where."""


class _Detector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.found:
            return
        line = self.getpos()[0]
        if tag in ACTIVE_TAGS:
            self.found = f"<{tag}> element on line {line}"
            return
        for name, value in attrs:
            if name.startswith("on"):
                self.found = f"{name}= event handler on <{tag}> (line {line})"
                return
            js = (
                _JS_URL.match(_URL_IGNORED.sub("", value))
                if name in URL_ATTRIBUTES and value
                else None
            )
            if js:
                self.found = f"{name}={js.group(1).lower()}: URL on <{tag}> (line {line})"
                return


def find_active_content(html: str) -> str | None:
    detector = _Detector()
    detector.feed(html)
    detector.close()
    return detector.found


def sanitize_body(html: str) -> str:
    """Allowlisted, normalized HTML without XML-forbidden characters or non-characters.

    Raises ActiveContent when the input carries scripts or script URLs.
    """
    html = UNFIT.sub("", html)
    found = find_active_content(html)
    if found:
        raise ActiveContent(f"the body carries active content ({found}); remove it and resend")
    cleaned = _clean(html)
    # Mis-nested input (say "<li><table><li>") can come out of one pass as markup that a second
    # parse rearranges again; clean until the result is stable, so sanitizing stored HTML again
    # (an update, a re-render) never changes it.
    for _ in range(_MAX_PASSES):
        again = _clean(cleaned)
        if again == cleaned:
            break
        cleaned = again
    return cleaned


_MAX_PASSES = 5


def _clean(html: str) -> str:
    cleaned = nh3.clean(
        html,
        tags=TAGS,
        attributes=ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        clean_content_tags={"style", "script"},
        link_rel="noopener noreferrer",
        strip_comments=True,
    )
    # Character references such as &#1; or &#xFFFE; come out of the parser as the characters
    # themselves, so the forbidden ones are removed again from the result. Only ASCII whitespace
    # is trimmed: str.strip() would also eat the ideographic spaces that indent Chinese text.
    # A body of nothing but (any) whitespace is still empty.
    cleaned = UNFIT.sub("", cleaned).strip(" \t\n\r\f")
    return cleaned if cleaned.strip() else ""
