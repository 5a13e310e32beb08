"""Pictures in the body from other origins become our own pictures.

A body ``<img src="https://elsewhere/...">`` would make every reader's browser fetch from a
third party (a page must satisfy CSP ``img-src 'self'``); dropping it would lose part of the
article. So each one becomes an association (``{"type": "picture", "uri": src, ...}``) that the
render worker fetches through its address guard and serves from /media/, and its place in the
text becomes the body's placeholder ``<figure data-association="KEY"></figure>``, the same one
the importer writes between paragraphs. An ``<img>`` with any other source (relative, data:)
has nothing we could fetch and is removed.

A figure is flow content and may not stand inside a paragraph, a heading, a link or a list
item's inline text (HTML, 4.4.12 "the figure element": contexts where flow content is
expected), so it is placed right after the top-level element that held the image; a
paragraph left empty by the move is dropped, and an HTML5 ``<figure>`` of one picture and its
``<figcaption>`` becomes the placeholder, its caption the picture's description.

Works on sanitized HTML only (ingest.sanitize): nh3 serializes canonically (every tag closed,
attribute values double-quoted and escaped, no comments), which is what the tokenizer relies on.
"""

from __future__ import annotations

import hashlib
import html
import re
from dataclasses import dataclass, field

from shared.schema import web_url

_TAG = re.compile(r'<(/?)([a-zA-Z][a-zA-Z0-9]*)((?:\s+[^\s=>/]+(?:="[^"]*")?)*)\s*/?>')
_ATTR = re.compile(r'([^\s=>/]+)(?:="([^"]*)")?')
_VOID = frozenset({"br", "hr", "img", "wbr"})
# A paragraph with nothing left but these once its pictures moved out.
_EMPTY_PARAGRAPH = re.compile(r"<p>(?:\s|&nbsp;|\u00a0|\u3000|<br>)*</p>")
# An HTML5 figure that held one picture and its caption: it becomes our placeholder, and its
# caption the picture's description.
_PICTURE_FIGURE = re.compile(r"<figure>\s*(?:<figcaption>(.*?)</figcaption>)?\s*</figure>", re.S)


def picture_key(src: str) -> str:
    """Deterministic, so posting the same body again is "unchanged"."""
    return "bodyimg-" + hashlib.sha256(src.encode("utf-8")).hexdigest()[:16]


@dataclass
class Lifted:
    html: str
    pictures: dict[str, dict] = field(default_factory=dict)


def _attrs(text: str) -> dict[str, str]:
    return {m.group(1).lower(): html.unescape(m.group(2) or "") for m in _ATTR.finditer(text)}


def _picture(attrs: dict[str, str]) -> dict | None:
    src = attrs.get("src", "").strip()
    try:
        web_url(src)
    except ValueError:
        return None
    picture = {"type": "picture", "uri": src}
    caption = (attrs.get("alt") or attrs.get("title") or "").strip()
    if caption:
        picture["description"] = caption
    return picture


def _figure(key: str) -> str:
    return f'<figure data-association="{key}"></figure>'


def _absorbed(element: str, keys: list[str], pictures: dict[str, dict]) -> bool:
    """True if the element that held the pictures is nothing without them: an empty
    paragraph, or a figure of one picture, whose caption then goes to the picture (the
    visible caption as the description; an alt text that said something else as its
    headline, so neither is lost)."""
    if _EMPTY_PARAGRAPH.fullmatch(element):
        return True
    match = _PICTURE_FIGURE.fullmatch(element)
    if match is None or len(keys) != 1:
        return False
    caption = html.unescape(re.sub(r"<[^>]+>", "", match.group(1) or "")).strip()
    picture = pictures[keys[0]]
    if caption and caption != picture.get("description"):
        if "description" in picture:
            picture["headline"] = picture["description"]
        picture["description"] = caption
    return True


def lift_images(sanitized: str) -> Lifted:
    """The body with every ``<img>`` replaced as the module says, and the new pictures."""
    out: list[str] = []
    pending: list[str] = []  # figures waiting for the top-level element to close
    depth = 0
    top_start = 0  # where in ``out`` the open top-level element began
    pictures: dict[str, dict] = {}
    pos = 0
    for tag in _TAG.finditer(sanitized):
        out.append(sanitized[pos : tag.start()])
        pos = tag.end()
        closing, name = tag.group(1), tag.group(2).lower()
        if name == "img":
            picture = _picture(_attrs(tag.group(3)))
            if picture is None:
                continue
            key = picture_key(picture["uri"])
            pictures.setdefault(key, picture)
            (pending.append(key) if depth else out.append(_figure(key)))
            continue
        if name in _VOID:
            out.append(tag.group())
            continue
        if not closing:
            if depth == 0:
                top_start = len(out)
            depth += 1
            out.append(tag.group())
            continue
        out.append(tag.group())
        depth = max(depth - 1, 0)
        if depth == 0 and pending:
            element = "".join(out[top_start:])
            del out[top_start:]
            if not _absorbed(element, pending, pictures):
                out.append(element)
            out.extend(_figure(key) for key in pending)
            pending.clear()
    out.append(sanitized[pos:])
    out.extend(_figure(key) for key in pending)  # only if the markup was not closed
    # Trimmed as the sanitizer trims (ASCII whitespace only), so sanitizing again is a no-op.
    return Lifted("".join(out).strip(" \t\n\r\f"), pictures)
