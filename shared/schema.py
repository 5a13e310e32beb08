"""The article, after IPTC ninjs 3.x where ninjs has a field, plus the few extensions real
input needs.

Extensions (ninjs has no field for them): ``source`` and ``guid`` (the upsert key: which system
sent the article and its id there), ``recommended`` (a portal's "recommended reading" box), and
``contactInfo`` on an info source (a portal's phone and e-mail lines).

Every datetime is timezone-aware; a naive one is refused rather than guessed.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AnyHttpUrl, AwareDatetime, BaseModel, ConfigDict, Field, field_validator

# XML 1.0 (section 2.2) allows #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] |
# [#x10000-#x10FFFF].
# Anything else cannot appear in a feed, so it must not enter the store.
XML_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
# In a one-line field (a headline, a name) a line break or tab is a mistake too.
_LINE_FORBIDDEN = re.compile("[\x00-\x1f\x7f\ud800-\udfff\ufffe\uffff]")


def _one_line(value: str) -> str:
    match = _LINE_FORBIDDEN.search(value)
    if match:
        raise ValueError(
            f"control character U+{ord(match.group()):04X} at position {match.start()}; "
            "remove it (one-line text may not hold control characters)"
        )
    return value.strip()


Line = Annotated[str, Field(min_length=1, max_length=1000)]
ShortText = Annotated[str, Field(max_length=20_000)]


class _Model(BaseModel):
    # An unknown field is a typo or a contract mismatch; refusing it loses nothing silently.
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class Headline(_Model):
    role: str = "main"
    value: Line

    _clean = field_validator("value")(lambda cls, v: _one_line(v))


class Body(_Model):
    role: str = "main"
    contenttype: Literal["text/html"] = "text/html"
    value: Annotated[str, Field(min_length=1)]


class Named(_Model):
    """A subject, place or similar: a name, optionally a URI and a relation."""

    name: Line
    uri: str | None = None
    rel: str | None = None

    _clean = field_validator("name")(lambda cls, v: _one_line(v))


class Contact(_Model):
    type: Literal["phone", "email", "web"]
    value: Line

    _clean = field_validator("value")(lambda cls, v: _one_line(v))


class InfoSource(_Model):
    """ninjs infoSource: who the content came from. ``role`` says how."""

    name: Line
    role: Literal["originalSource", "publisher", "author"] = "originalSource"
    uri: AnyHttpUrl | None = None
    contactInfo: list[Contact] = Field(default_factory=list, max_length=20)

    _clean = field_validator("name")(lambda cls, v: _one_line(v))


class Rendition(_Model):
    """One produced file of an image (ninjs rendition); filled in by the render worker."""

    name: str
    href: str
    contenttype: str
    width: int
    height: int
    sizeinbytes: int


class Picture(_Model):
    """ninjs association of type picture. ``uri`` is where the source bytes come from:
    an http(s) URL, or ``urn:newsflow:media:sha256:<hex>`` for an uploaded file."""

    type: Literal["picture"] = "picture"
    uri: Annotated[str, Field(min_length=1, max_length=4000)]
    headline: ShortText | None = None
    description: ShortText | None = None
    creditline: ShortText | None = None
    # The file name the image had where it came from (the seed export places images by name).
    filename: Annotated[str, Field(max_length=255)] | None = None
    renditions: list[Rendition] = Field(default_factory=list)


class RecommendedItem(_Model):
    headline: Line
    uri: str | None = None


class Recommended(_Model):
    heading: Line
    items: list[RecommendedItem] = Field(default_factory=list, max_length=100)


AssociationKey = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")]


class ArticleIn(_Model):
    """What a client posts to ``POST /v1/articles``."""

    source: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")]
    guid: Annotated[str, Field(min_length=1, max_length=1000)]
    uri: str | None = None
    type: Literal["text"] = "text"
    language: Annotated[str, Field(pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$")]
    versionCreated: AwareDatetime
    firstCreated: AwareDatetime | None = None
    pubStatus: Literal["usable", "withheld", "canceled"] = "usable"
    embargoedUntil: AwareDatetime | None = None
    headlines: Annotated[list[Headline], Field(min_length=1, max_length=10)]
    bodies: Annotated[list[Body], Field(min_length=1, max_length=5)]
    by: ShortText | None = None
    subjects: list[Named] = Field(default_factory=list, max_length=100)
    places: list[Named] = Field(default_factory=list, max_length=100)
    infoSources: list[InfoSource] = Field(default_factory=list, max_length=20)
    associations: dict[AssociationKey, Picture] = Field(default_factory=dict, max_length=100)
    copyrightNotice: ShortText | None = None
    usageTerms: ShortText | None = None
    recommended: Recommended | None = None

    _clean_by = field_validator("by")(lambda cls, v: None if v is None else _one_line(v))

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


Status = Literal["queued", "processing", "published", "failed", "withdrawn"]


class Article(ArticleIn):
    """An article as the store holds it: the posted content plus our identity and state."""

    id: str
    version: int
    status: Status
    statusReason: str | None = None
    firstCreated: AwareDatetime  # type: ignore[assignment]  # always set once stored
