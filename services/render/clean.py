"""Every value that reaches a page or a feed is untrusted, even from our own store: a row
written before the door's checks, or a value that slipped past them. This module is the
second line of defence (the first is ingest.sanitize): text that XML 1.0 can carry, URLs with
a scheme a reader can follow safely, and a body that loads nothing from a third party.

Pure: no Flask, no Celery, no settings.
"""

from __future__ import annotations

import re
import unicodedata
from html import escape, unescape
from urllib.parse import quote, urlsplit

import nh3

from shared.htmlpolicy import ATTRIBUTES, TAGS, URL_SCHEMES
from shared.schema import UNFIT as DOOR_UNFIT

# What the door strips or refuses (shared.schema.UNFIT: XML 1.0 section 2.2's forbidden
# characters, lone surrogates, Unicode non-characters), and the C1 controls, which XML 1.0
# discourages and HTML calls parse errors. None of them is text a reader needs.
UNFIT = re.compile(f"{DOOR_UNFIT.pattern}|[\x7f-\x9f]")
_LINE_BREAKS = re.compile("[\t\n\r]+")
# BCP 47 in its plain shape (RFC 5646 section 2.1): what xml:lang and <html lang> can carry.
_LANGUAGE = re.compile(r"^[A-Za-z]{2,8}(?:-[A-Za-z0-9]{1,8}){0,8}$")
# A deliberately narrow address: anything that would need escaping in a mailto: URI
# (RFC 6068: "?" starts header fields, "%" escapes) is shown as text instead of a link.
_EMAIL = re.compile(r"^[A-Za-z0-9._+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})+$")
# RFC 3986 reserved and unreserved characters plus "%": quote() leaves these as they are and
# percent-encodes the rest (spaces, quotes, non-ASCII), so an IRI becomes a URI.
_URI_SAFE = ":/?#[]@!$&'()*+,;=%-._~"
# An absolute http(s) URL with nothing to check or encode (every URL we make ourselves): the
# fast path, one match instead of a parse. Anything else takes the slow path below.
_PLAIN_HTTP = re.compile(
    r"https?://[A-Za-z0-9.-]+(?::[0-9]{1,5})?(?:[/?#][A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]*)?",
    re.IGNORECASE,
)
_URL_SPACE = re.compile(r"[\s\x00-\x1f]")


def text(value: object) -> str:
    """``value`` as text XML 1.0 can carry ("" for a non-string)."""
    if not isinstance(value, str):
        return ""
    return UNFIT.sub("", value) if UNFIT.search(value) else value


def line(value: object) -> str:
    """One-line text: cleaned, line breaks and tabs as spaces, no surrounding whitespace."""
    return _LINE_BREAKS.sub(" ", text(value)).strip()


def visible(value: str) -> bool:
    """Whether any character shows: not only whitespace, format or control characters."""
    return any(not unicodedata.category(c).startswith(("Z", "C")) for c in value)


def language(value: object) -> str:
    tag = line(value)
    return tag if _LANGUAGE.match(tag) else "und"  # BCP 47 "undetermined"


def http_url(value: object) -> str | None:
    """An absolute http(s) URL fit for an href, src or feed link, or None.

    Anything else (``javascript:``, ``data:``, a relative or scheme-relative URL, a URL with
    whitespace or control characters, which browsers strip before reading the scheme) is
    refused. Non-ASCII is percent-encoded as UTF-8 (RFC 3987 section 3.1): JSON Feed and RSS
    want URIs."""
    if isinstance(value, str) and _PLAIN_HTTP.fullmatch(value):
        return value
    url = text(value).strip()
    if not url or _URL_SPACE.search(url):
        return None
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 -- raises ValueError for a port that is not a number
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return quote(url, safe=_URI_SAFE)


def mailto(address: object) -> str | None:
    value = line(address)
    return f"mailto:{value}" if len(value) <= 254 and _EMAIL.match(value) else None


def own(url: str, base: str) -> bool:
    """Whether ``url`` is one of ours: under the public base URL."""
    return url.startswith(f"{base}/")


_SCHEME = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*:")


def absolute(base: str, href: str) -> str:
    if _SCHEME.match(href) or href.startswith("//"):
        return href
    return f"{base}/{href.lstrip('/')}"


# nh3 (html5ever) writes every attribute double-quoted with '"' escaped, so this matches a
# whole tag of its output exactly, whatever an attribute value holds.
_IMG = re.compile(r'<img(?:\s+[^\s="/>]+(?:="[^"]*")?)*\s*/?>')
_URL_ATTR = re.compile(r'(\s(?:href|src)=")([^"]*)(")')
_BODIES: dict[tuple[str, str], str] = {}
# About twenty feeds' worth of bodies (~20 MB at 10 KB each); cleared when full.
_BODIES_MAX = 1024


def absolutize(fragment: str, base: str) -> str:
    """Every href/src made absolute: feed readers resolve nothing (a W3C validator warning)."""
    return _URL_ATTR.sub(
        lambda m: m.group(1) + escape(absolute(base, unescape(m.group(2)))) + m.group(3),
        fragment,
    )


def body(fragment: str, base: str) -> str:
    """The stored body again through the allowlist, every URL absolute, and every ``<img>``
    that is not ours removed: pages make no third-party request (so
    ``Content-Security-Policy: img-src 'self'`` holds) and no reader is tracked through a
    feed. Cached, since every rebuild shows the same bodies again."""
    key = (fragment, base)
    cleaned = _BODIES.get(key)
    if cleaned is None:
        cleaned = _clean_body(fragment, base)
        if len(_BODIES) >= _BODIES_MAX:
            _BODIES.clear()
        _BODIES[key] = cleaned
        _BODIES[(cleaned, base)] = cleaned  # cleaning is idempotent: a second pass is free
    return cleaned


def _clean_body(fragment: str, base: str) -> str:
    def only_ours(element: str, attribute: str, value: str) -> str | None:
        if element == "img" and attribute == "src":
            return value if own(absolute(base, value), base) else None
        return value

    cleaned = nh3.clean(
        text(fragment),
        tags=TAGS,
        attributes=ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel=None,
        attribute_filter=only_ours,
    )
    # html5ever keeps a character reference to a control character (&#1;) as that character.
    cleaned = _IMG.sub(lambda m: m.group() if ' src="' in m.group() else "", text(cleaned))
    return absolutize(cleaned, base)
