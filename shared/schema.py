"""The article, after IPTC ninjs 3.x where ninjs has a field, plus the few extensions real
input needs.

Extensions (ninjs has no field for them): ``source`` and ``guid`` (the upsert key: which system
sent the article and its id there), ``recommended`` (a portal's "recommended reading" box), and
``contactInfo`` on an info source (a portal's phone and e-mail lines).

The door rules (docs/architecture.md, ingest): every string of every model passes one check
(``_Model._text_is_fit``), so a field added later is covered without a line of its own; the
types below add what a kind of field needs on top (one line, a web URL, a name that becomes a
file name, an instant every feed format can write).

Every datetime is timezone-aware; a naive one is refused rather than guessed.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    field_validator,
)

# --- characters --------------------------------------------------------------------------------

# XML 1.0 (section 2.2) allows #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] |
# [#x10000-#x10FFFF].
# Anything else cannot appear in a feed, so it must not enter the store.
XML_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
# Unicode non-characters (Unicode 15, section 23.7): U+FDD0..U+FDEF and the last two code
# points of every plane. "Not for interchange": they mean nothing to a reader and some XML
# tools refuse them although XML 1.0 lets the ones above U+FFFF through.
NONCHARACTERS = re.compile(
    "[\ufdd0-\ufdef\ufffe\uffff"
    + "".join(f"{chr(p << 16 | 0xFFFE)}{chr(p << 16 | 0xFFFF)}" for p in range(1, 17))
    + "]"
)
# A lone surrogate is no Unicode text at all: it cannot be encoded as UTF-8 (the store, the
# hash, every output would fail), so it is refused everywhere, never stripped.
SURROGATE = re.compile("[\ud800-\udfff]")
# What may not stay in any text: stripped from long free text, refused elsewhere.
UNFIT = re.compile(f"{XML_FORBIDDEN.pattern}|{NONCHARACTERS.pattern}")
# In a one-line field (a headline, a name) any control character is a mistake: a line
# break, a tab, DEL or a C1 control (XML 1.0 section 2.2 discourages #x7F-#x9F). The rest of
# UNFIT is refused there by the check every string passes.
_LINE_FORBIDDEN = re.compile("[\x00-\x1f\x7f-\x9f]")
# Letters that render as nothing (Hangul fillers, braille blank): a headline of them is blank.
_INVISIBLE_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")


def _where(value: str, match: re.Match) -> str:
    return f"U+{ord(match.group()):04X} at position {match.start()}"


def check_unicode(value: str) -> str:
    """Valid Unicode with no XML-forbidden character and no non-character, or ValueError."""
    match = SURROGATE.search(value)
    if match:
        raise ValueError(
            f"lone surrogate {_where(value, match)}: not valid Unicode text; "
            "send UTF-8 (a JSON \\ud800-\\udfff escape must come in a high-low pair)"
        )
    match = UNFIT.search(value)
    if match:
        raise ValueError(
            f"character {_where(value, match)} cannot appear in XML feeds "
            "(a control character or a Unicode non-character); remove it"
        )
    return value


def strip_unfit(value: str) -> str:
    """Long free text (captions, rights, the body) loses what no feed can carry. Stripping,
    not refusing, because such text is pasted from word processors, which leave vertical tabs
    (Word's manual line break) and form feeds in it; the reader loses nothing visible.
    A lone surrogate is kept, so check_unicode still refuses it."""
    return UNFIT.sub(lambda m: m.group() if SURROGATE.match(m.group()) else "", value)


def has_visible(value: str) -> bool:
    """True if some character draws something: not whitespace (incl. U+3000), not a format
    character (zero-width space, BOM, joiners), not a control, not an invisible letter."""
    return any(
        not c.isspace()
        and unicodedata.category(c) not in ("Cc", "Cf", "Cs", "Zs", "Zl", "Zp")
        and c not in _INVISIBLE_LETTERS
        for c in value
    )


def _one_line(value: str) -> str:
    match = _LINE_FORBIDDEN.search(value)
    if match:
        raise ValueError(
            f"control character {_where(value, match)}; "
            "remove it (one-line text may not hold control characters)"
        )
    value = value.strip()
    if not has_visible(value):
        raise ValueError("no visible character (only whitespace or invisible characters)")
    return value


def _token(value: str) -> str:
    """An identifier (a role, a guid): kept exactly as sent, but on one line."""
    match = _LINE_FORBIDDEN.search(value)
    if match:
        raise ValueError(f"control character {_where(value, match)}; remove it")
    return value


# One-line text refuses (a control character in a headline or a name is a sender's bug, and
# silently changing a name would change which feed it lands in); long free text strips.
Line = Annotated[str, Field(min_length=1, max_length=1000), AfterValidator(_one_line)]
Token = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_token)]
ShortText = Annotated[str, Field(max_length=20_000), AfterValidator(strip_unfit)]

# --- names that become file names and URL path segments -----------------------------------------

# feeds/region/<name>.atom.br, pages/region/<name>.html, <name>/archive/<n>.json.gz: the
# longest suffix is under 16 bytes, and a file name may hold 255 bytes (ext4, APFS, NTFS in
# UTF-16 units: at most as many as the UTF-8 bytes), so 200 bytes leaves room.
NAME_MAX_BYTES = 200


def _key_name(value: str) -> str:
    size = len(value.encode("utf-8"))
    if size > NAME_MAX_BYTES:
        raise ValueError(
            f"the name is {size} bytes in UTF-8; at most {NAME_MAX_BYTES} bytes "
            "(it becomes a feed's file name)"
        )
    if not has_visible(value.replace(".", "")):
        raise ValueError("a name of only dots and spaces cannot name a feed")
    return value


KeyName = Annotated[
    str,
    Field(
        min_length=1,
        max_length=NAME_MAX_BYTES,  # characters: never more than bytes
        description=f"At most {NAME_MAX_BYTES} bytes in UTF-8; names a feed file.",
    ),
    AfterValidator(_one_line),
    AfterValidator(_key_name),
]
# Constraints of nested Annotated types add up rather than override, so each length is its
# own flat type.
Guid = Annotated[str, Field(min_length=1, max_length=1000), AfterValidator(_token)]
FileName = Annotated[str, Field(min_length=1, max_length=255), AfterValidator(_one_line)]

# --- URLs ------------------------------------------------------------------------------------

# Browsers and sitemaps (sitemaps.org) stop at about 2,000 characters; longer is an abuse.
URL_MAX = 2048
_URL_PATTERN = r"^[Hh][Tt][Tt][Pp][Ss]?://[^\s/?#@]+([/?#]\S*)?$"
_MEDIA_URN = r"^urn:newsflow:media:sha256:[0-9a-f]{64}$"
_URL_BAD_CHAR = re.compile(r"[\x00-\x20\x7f-\x9f\s]")
_HOST_LABELS = re.compile(r"^([A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?\.)*"
                          r"[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?\.?$")  # fmt: skip


def _host_ok(host: str) -> bool:
    if host.startswith("["):
        try:
            return ipaddress.ip_address(host[1:-1]).version == 6 and host.endswith("]")
        except ValueError:
            return False
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")  # RFC 3490: an IDN must convert
        except UnicodeError:
            return False
    return len(host) <= 253 and bool(_HOST_LABELS.match(host))


def web_url(value: str) -> str:
    """An absolute http(s) URL with a host: what may become an href or an image source.

    Refused: other schemes (javascript:, data:, file:), relative or host-less URLs,
    whitespace and control characters (a browser drops tabs and newlines from a URL before
    reading it, WHATWG URL, so they only ever hide something), and user:password@ (which
    makes ``http://trusted.example@evil.example/`` look trusted).
    """
    match = _URL_BAD_CHAR.search(value)
    if match:
        raise ValueError(f"whitespace or control character {_where(value, match)} in the URL")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018  (raises ValueError on a port that is no number)
    except ValueError as exc:
        raise ValueError(f"not a URL: {exc}") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise ValueError("only absolute http:// and https:// URLs are accepted")
    if "@" in parts.netloc:
        raise ValueError("a URL may not carry user:password@")
    host = parts.netloc.rsplit(":", 1)[0] if not parts.netloc.endswith("]") else parts.netloc
    if not host or not _host_ok(host):
        raise ValueError("the URL has no valid host name")
    return value


def _picture_uri(value: str) -> str:
    if re.fullmatch(_MEDIA_URN, value):
        return value
    try:
        return web_url(value)
    except ValueError as exc:
        raise ValueError(f"{exc}; or upload the file (POST /v1/media) and send its urn") from None


WebUrl = Annotated[
    str,
    Field(
        min_length=1,
        max_length=URL_MAX,
        json_schema_extra={"format": "uri", "pattern": _URL_PATTERN},
    ),
    AfterValidator(web_url),
]
PictureUri = Annotated[
    str,
    Field(
        min_length=1,
        max_length=URL_MAX,
        json_schema_extra={"pattern": f"({_URL_PATTERN})|({_MEDIA_URN})"},
    ),
    AfterValidator(_picture_uri),
]

# --- instants ----------------------------------------------------------------------------------

# Every output must write every date after converting it to UTC: RFC 822 dates in RSS (RFC 5322
# section 3.3: "any numeric year 1900 or later"), RFC 3339 in Atom and JSON Feed (a four-digit
# year). Ending a day before 9999-12-31 keeps the local time of any offset within year 9999.
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 12, 30, tzinfo=UTC)


def _in_range(value: datetime) -> datetime:
    try:
        utc = value.astimezone(UTC)
    except OverflowError:
        utc = None
    if utc is None or not EARLIEST <= utc <= LATEST:
        raise ValueError(
            f"{value.isoformat()} is outside {EARLIEST:%Y-%m-%d}..{LATEST:%Y-%m-%d} in UTC, "
            "which not every feed format can write"
        )
    return value


Instant = Annotated[
    AwareDatetime,
    Field(description=f"With an offset; between {EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d} in UTC."),
    AfterValidator(_in_range),
]

# --- the models --------------------------------------------------------------------------------


def _walk_strings(value: Any, path: str = ""):
    """Every string in a validated value, with where it sits; a nested model is skipped, it
    checked its own fields."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            yield from _walk_strings(item, f"{path}[{i}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _walk_strings(key, f"{path} key")
            yield from _walk_strings(item, f"{path}[{key!r}]")


class _Model(BaseModel):
    # An unknown field is a typo or a contract mismatch; refusing it loses nothing silently.
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)

    @field_validator("*", mode="wrap")
    @classmethod
    def _text_is_fit(
        cls, value: Any, handler: ValidatorFunctionWrapHandler, info: ValidationInfo
    ) -> Any:
        """The one check every string of every field passes, whatever its type: after the
        field's own validation (so free text has been stripped already), no string may hold
        a lone surrogate, an XML-forbidden character or a non-character."""
        validated = handler(value)
        for where, text in _walk_strings(validated):
            try:
                check_unicode(text)
            except ValueError as exc:
                raise ValueError(f"{where.strip()}: {exc}" if where else str(exc)) from None
        return validated


class Headline(_Model):
    role: Token = "main"
    value: Line


class Body(_Model):
    role: Token = "main"
    contenttype: Literal["text/html"] = "text/html"
    # Sanitized at ingest (ingest/sanitize.py), which also strips what XML cannot carry.
    value: Annotated[str, Field(min_length=1), AfterValidator(strip_unfit)]


class Named(_Model):
    """A subject, place or similar: a name, optionally a URI and a relation."""

    name: KeyName
    uri: WebUrl | None = None
    rel: Token | None = None


# An e-mail contact becomes a mailto: link and a web contact may become a link: one address,
# no spaces, no characters that would start a header or a parameter (RFC 6068 section 2).
_EMAIL = re.compile(r"[^\s@<>\"?&,;:()\[\]\\]+@[^\s@<>\"?&,;:()\[\]\\]+")


class Contact(_Model):
    type: Literal["phone", "email", "web"]
    value: Line

    @field_validator("value")
    @classmethod
    def _addresses_are_addresses(cls, value: str, info: ValidationInfo) -> str:
        kind = info.data.get("type")  # declared first, so validated already
        if kind == "email" and not _EMAIL.fullmatch(value):
            raise ValueError("not an e-mail address (one name@domain, nothing else)")
        return web_url(value) if kind == "web" else value


class InfoSource(_Model):
    """ninjs infoSource: who the content came from. ``role`` says how."""

    name: KeyName
    role: Literal["originalSource", "publisher", "author"] = "originalSource"
    uri: WebUrl | None = None
    contactInfo: list[Contact] = Field(default_factory=list, max_length=20)


Count = Annotated[int, Field(ge=0, le=2**31 - 1)]


class Rendition(_Model):
    """One produced file of an image (ninjs rendition); filled in by the render worker."""

    name: Token
    href: WebUrl
    contenttype: Token
    width: Count
    height: Count
    sizeinbytes: Count


class Picture(_Model):
    """ninjs association of type picture. ``uri`` is where the source bytes come from:
    an http(s) URL, or ``urn:newsflow:media:sha256:<hex>`` for an uploaded file."""

    type: Literal["picture"] = "picture"
    uri: PictureUri
    headline: ShortText | None = None
    description: ShortText | None = None
    creditline: ShortText | None = None
    # The file name the image had where it came from (the seed export places images by name).
    filename: FileName | None = None
    renditions: list[Rendition] = Field(default_factory=list)


class RecommendedItem(_Model):
    headline: Line
    uri: WebUrl | None = None


class Recommended(_Model):
    heading: Line
    items: list[RecommendedItem] = Field(default_factory=list, max_length=100)


AssociationKey = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")]


# Which system sent an article: lower-case, the upsert key's first half and what partner keys
# are bound to (shared.partners).
SOURCE_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,63}$"


class ArticleIn(_Model):
    """What a client posts to ``POST /v1/articles``."""

    source: Annotated[str, Field(pattern=SOURCE_PATTERN)]
    guid: Guid
    uri: WebUrl | None = None
    type: Literal["text"] = "text"
    language: Annotated[str, Field(pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$")]
    versionCreated: Instant
    firstCreated: Instant | None = None
    pubStatus: Literal["usable", "withheld", "canceled"] = "usable"
    embargoedUntil: Instant | None = None
    headlines: Annotated[list[Headline], Field(min_length=1, max_length=10)]
    bodies: Annotated[list[Body], Field(min_length=1, max_length=5)]
    by: Line | None = None
    subjects: list[Named] = Field(default_factory=list, max_length=100)
    places: list[Named] = Field(default_factory=list, max_length=100)
    infoSources: list[InfoSource] = Field(default_factory=list, max_length=20)
    associations: dict[AssociationKey, Picture] = Field(default_factory=dict, max_length=100)
    copyrightNotice: ShortText | None = None
    usageTerms: ShortText | None = None
    recommended: Recommended | None = None

    @property
    def headline(self) -> str:
        for h in self.headlines:
            if h.role == "main":
                return h.value
        return self.headlines[0].value

    @property
    def body_html(self) -> str:
        for b in self.bodies:
            if b.role == "main":
                return b.value
        return self.bodies[0].value

    @property
    def original_source(self) -> InfoSource | None:
        return next((s for s in self.infoSources if s.role == "originalSource"), None)

    @property
    def publisher(self) -> InfoSource | None:
        return next((s for s in self.infoSources if s.role == "publisher"), None)

    @property
    def regions(self) -> list[str]:
        return [p.name for p in self.places]


Status = Literal["queued", "processing", "embargoed", "published", "failed", "withdrawn"]


class Article(ArticleIn):
    """An article as the store holds it: the posted content plus our identity and state."""

    id: str
    version: int
    status: Status
    statusReason: str | None = None
    firstCreated: AwareDatetime  # type: ignore[assignment]  # always set once stored
