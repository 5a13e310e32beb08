"""Our stored article as an IPTC ninjs 3.1 document: what partners pull and webhooks push.

The store keeps ninjs field names (shared.schema) with a few differences that ninjs 3.1
(``unevaluatedProperties: false``) does not allow through, so every field is mapped here and
none is dropped:

- identity: ``uri`` is ours and stable (``urn:newsflow:article:<id>``, ninjs: "should be used
  to identify the ninjs object, not for links"); the sender's ``source`` and ``guid`` and the
  original page (``uri`` as posted) are ``altIds``; our page is the ``html`` rendition;
- ``associations`` is a ninjs array: each picture is an object named by its key, the key the
  body's ``<figure data-association="KEY">`` placeholder names; a picture's caption is a
  ``description``, its credit line ``by``, its file name an ``altId``; renditions use ninjs
  names (``contentType``, ``sizeInBytes``) with absolute ``href``s;
- ``recommended`` (a portal's "recommended reading" box) becomes associations with
  ``rel: "recommended"``, in order; the box's heading is a ``description`` of the item with
  the role ``recommendedHeading`` (kept when the box has no entries);
- a body's ``contenttype`` is ninjs ``contentType``.

A withdrawal is a tombstone: the same ``uri``, ``pubStatus: "canceled"``, no content.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

URI_PREFIX = "urn:newsflow:article:"
RECOMMENDED_REL = "recommended"
RECOMMENDED_HEADING = "recommendedHeading"


def item_uri(article_id: str) -> str:
    return f"{URI_PREFIX}{article_id}"


def article_id_of(uri: str) -> str | None:
    return uri.removeprefix(URI_PREFIX) if uri.startswith(URI_PREFIX) else None


def _named(values: list[dict]) -> list[dict]:
    return [{k: v[k] for k in ("name", "uri", "rel") if v.get(k)} for v in values]


def _info_sources(values: list[dict]) -> list[dict]:
    out = []
    for source in values:
        item = {k: source[k] for k in ("name", "role", "uri") if source.get(k)}
        contacts = [{"type": c["type"], "value": c["value"]} for c in source.get("contactInfo", [])]
        if contacts:
            item["contactInfo"] = contacts
        out.append(item)
    return out


def _renditions(made: dict, base: str) -> list[dict]:
    return [
        {
            "name": r["name"],
            "href": f"{base}/{r['href']}",
            "contentType": r["contenttype"],
            "width": r["width"],
            "height": r["height"],
            "sizeInBytes": r["sizeinbytes"],
        }
        for r in made.get("renditions", [])
        if made.get("status") == "ok"
    ]


def _picture(key: str, picture: dict, made: dict, base: str) -> dict:
    item: dict[str, Any] = {"name": key, "rel": "picture", "uri": picture["uri"]}
    item["type"] = "picture"
    if picture.get("headline"):
        item["headlines"] = [{"value": picture["headline"]}]
    if picture.get("description"):
        item["descriptions"] = [{"role": "caption", "value": picture["description"]}]
    if picture.get("creditline"):
        item["by"] = picture["creditline"]
    if picture.get("filename"):
        item["altIds"] = [{"role": "filename", "value": picture["filename"]}]
    renditions = _renditions(made, base)
    if renditions:
        item["renditions"] = renditions
    return item


def _recommended(article_id: str, box: dict) -> list[dict]:
    out = []
    for i, entry in enumerate(box.get("items", []), 1):
        out.append(
            {
                "name": f"recommended-{i}",
                "rel": RECOMMENDED_REL,
                # ninjs requires an association's uri; an entry without a link gets ours.
                "uri": entry.get("uri") or f"{item_uri(article_id)}:recommended:{i}",
                "type": "text",
                "headlines": [{"value": entry["headline"]}],
            }
        )
    return out


def _alt_ids(doc: dict) -> list[dict]:
    ids = [{"role": "source", "value": doc["source"]}, {"role": "guid", "value": doc["guid"]}]
    if doc.get("uri"):
        ids.append({"role": "originalUri", "value": doc["uri"]})
    return ids


def item(
    article_id: str, version: int, doc: dict, media: dict | None, base: str, page: bool = True
) -> dict:
    """The ninjs 3.1 document of one version. ``page``: the article page is live (its URL is
    the ``html`` rendition)."""
    media = media or {}
    out: dict[str, Any] = {
        "uri": item_uri(article_id),
        "type": "text",
        "version": str(version),
        "versionCreated": doc["versionCreated"],
        "pubStatus": doc.get("pubStatus", "usable"),
        "language": doc["language"],
        "headlines": [{"role": h["role"], "value": h["value"]} for h in doc["headlines"]],
        "bodies": [
            {
                "role": b["role"],
                "contentType": b.get("contenttype", "text/html"),
                "value": b["value"],
            }
            for b in doc["bodies"]
        ],
        "altIds": _alt_ids(doc),
    }
    for key in ("firstCreated", "embargoedUntil", "by", "copyrightNotice", "usageTerms"):
        if doc.get(key):
            out[key] = doc[key]
    for key in ("subjects", "places"):
        if doc.get(key):
            out[key] = _named(doc[key])
    if doc.get("infoSources"):
        out["infoSources"] = _info_sources(doc["infoSources"])
    associations = [
        _picture(key, picture, media.get(key, {}), base)
        for key, picture in doc.get("associations", {}).items()
    ]
    if doc.get("recommended"):
        # The box's heading is the item's own (a portal shows it even with no entries).
        out["descriptions"] = [
            {"role": RECOMMENDED_HEADING, "value": doc["recommended"]["heading"]}
        ]
        associations += _recommended(article_id, doc["recommended"])
    if associations:
        out["associations"] = associations
    if page:
        out["renditions"] = [
            {"name": "html", "href": f"{base}/articles/{article_id}", "contentType": "text/html"}
        ]
    return out


def tombstone(article_id: str, version: int, at: datetime, source: str, guid: str) -> dict:
    """A withdrawn article: who it was, that it is canceled, nothing of its content."""
    return {
        "uri": item_uri(article_id),
        "type": "text",
        "version": str(version),
        "versionCreated": at.isoformat(),
        "pubStatus": "canceled",
        "altIds": [{"role": "source", "value": source}, {"role": "guid", "value": guid}],
    }
