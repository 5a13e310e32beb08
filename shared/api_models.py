"""The HTTP answers' shapes, as pydantic models: the OpenAPI documents are generated from
these (shared.openapi) and the tests check live answers against them."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.schema import Status


class Error(BaseModel):
    """Every error answer: a code a program can switch on, a detail a person can act on, and
    the field at fault (a dotted path into the request body) or null."""

    error: str
    detail: str
    field: str | None


class ArticleAccepted(BaseModel):
    id: str = Field(description="newsflow's id of the article (stable across versions)")
    version: int = Field(description="1, then +1 for each change of content")
    result: Literal["created", "updated", "unchanged"]
    status: Status
    statusUrl: str


class ImageStatus(BaseModel):
    status: Literal["ok", "failed"]
    reason: str | None = None


class ArticleStatus(BaseModel):
    id: str
    source: str
    guid: str
    version: int
    publishedVersion: int | None = Field(description="the version readers see, once published")
    status: Status
    reason: str | None
    images: dict[str, ImageStatus]
    pageUrl: str | None
    embargoed: bool
    article: dict[str, Any] | None = Field(
        description="the stored article (ninjs field names) with renditions. While the "
        "newest version is embargoed, a key without embargo:read gets the public version "
        "(`publishedVersion`), or null if none"
    )


class MediaStored(BaseModel):
    uri: str = Field(description="urn:newsflow:media:sha256:<hex>, for a picture's uri")
    sha256: str
    size: int
    type: Literal["image/jpeg", "image/png", "image/gif", "image/webp"]


class Health(BaseModel):
    model_config = ConfigDict(extra="allow")

    status: Literal["ok", "degraded"]


class HubAccepted(BaseModel):
    """A WebSub request taken for verification of intent (W3C WebSub 5.1, 5.3)."""

    mode: Literal["subscribe", "unsubscribe"]
    topic: str
    callback: str
    leaseSeconds: int | None
    status: str


NINJS_ITEM = (
    "An IPTC ninjs 3.1 document (https://www.iptc.org/std/ninjs/ninjs-schema_3.1.json); a "
    "withdrawal is a tombstone: the same uri, `pubStatus: canceled`, no content."
)


class Change(BaseModel):
    """What happened to the item at the same index of ``items``."""

    sequence: int = Field(description="The change's position in the change log; increasing")
    operation: Literal["published", "updated", "withdrawn", "released"]
    uri: str = Field(description="The item's ninjs uri (urn:newsflow:article:<id>)")
    version: int
    embargoed: bool = Field(
        description="A version held by its embargo (only for keys with embargo:read)"
    )
    at: str = Field(description="When the change was made (RFC 3339)")


class ItemsPage(BaseModel):
    items: list[dict[str, Any]] = Field(description=NINJS_ITEM)
    changes: list[Change]
    next: str = Field(description="The cursor for the next page; store it after the items")
    hasMore: bool = Field(description="More changes follow now; false: poll again later")


class ItemHistory(BaseModel):
    items: list[dict[str, Any]] = Field(description=NINJS_ITEM)
    changes: list[Change]
