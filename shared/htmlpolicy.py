"""The one body HTML allowlist: ingest keeps only this at the door (ingest.sanitize), and the
render worker applies it again at the outputs (render.clean), so a body stored before a
change of policy, or written around the door, comes out under the same rules."""

from __future__ import annotations

TAGS = {
    "p", "br", "hr", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "code",
    "strong", "b", "em", "i", "u", "s", "sub", "sup", "small", "mark", "q", "cite", "abbr",
    "ul", "ol", "li", "dl", "dt", "dd",
    "a", "img", "figure", "figcaption",
    "table", "thead", "tbody", "tfoot", "tr", "th", "td", "caption",
    "span", "ruby", "rt", "rp",
}  # fmt: skip
ATTRIBUTES = {
    "a": {"href", "title", "hreflang"},
    "img": {"src", "alt", "width", "height", "title"},
    # A figure with data-association marks where an associated picture stands in the text.
    "figure": {"data-association"},
    "abbr": {"title"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan", "scope"},
    "ol": {"start"},
    "*": {"lang", "dir"},
}
URL_SCHEMES = {"http", "https", "mailto"}
