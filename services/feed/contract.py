"""The feed service's contract: every route it answers (the reader routes are public), in
one list that makes both the OpenAPI document (``/openapi.json``, docs/openapi/feed.json)
and the access rules (feed.auth). The partner pull API joins this list."""

from __future__ import annotations

import json

from flask import Blueprint, Flask, Response, abort, current_app

from shared import access, apidocs, openapi
from shared.api_models import Error, HubAccepted, ItemHistory, ItemsPage
from shared.openapi import Operation
from shared.openapi import Response as R
from shared.partners import SCOPE_CONTENT_READ

TITLE = "newsflow feed service"
VERSION = "1.0.0"
DESCRIPTION = (
    "Pages, feeds (RSS 2.0, Atom 1.0, JSON Feed 1.1, with RFC 5005 archives), media and the "
    "WebSub hub. Reader routes are public and answer conditional requests (ETag, "
    "Last-Modified) with 304. See docs/feeds.md, docs/websub.md and docs/api.md."
)
HTML = "text/html"
NOT_FOUND = R("Nothing is published at this address.", Error)


def _path(name: str, pattern: str | None = None) -> dict:
    schema = {"type": "string"} | ({"pattern": pattern} if pattern else {})
    return {"name": name, "in": "path", "required": True, "schema": schema}


OPERATIONS = [
    Operation("feed.home", "GET", "/", "Home: the newest articles", access.PUBLIC,
              {200: R("HTML page", media_type=HTML)}, tags=("pages",)),
    Operation("feed.article", "GET", "/articles/{article_id}", "An article's page",
              access.PUBLIC,
              {200: R("HTML page", media_type=HTML), 404: NOT_FOUND,
               410: R("The article was withdrawn by its publisher: a page saying so.",
                      media_type=HTML)},
              parameters=(_path("article_id", "^[0-9a-f]{1,32}$"),), tags=("pages",)),
    Operation("feed.channel", "GET", "/{kind}/{name}", "A region, source or channel page",
              access.PUBLIC, {200: R("HTML page", media_type=HTML), 404: NOT_FOUND},
              parameters=({"name": "kind", "in": "path", "required": True,
                           "schema": {"enum": ["region", "source", "channel"]}},
                          _path("name")),
              tags=("pages",)),
    Operation("feed.feed", "GET", "/feeds/{feed}.{format}", "A feed document",
              access.PUBLIC,
              {200: R("RSS 2.0, Atom 1.0 or JSON Feed 1.1; gzip/br by Accept-Encoding",
                      media_type="application/atom+xml",
                      headers={"ETag": "Strong validator", "Link": "WebSub hub and self"}),
               304: R("Not modified (If-None-Match / If-Modified-Since)."),
               404: NOT_FOUND},
              description="`all`, `region/<name>`, `source/<name>`, `channel/<name>`, and "
              "their archive pages `<feed>/archive/<n>` (RFC 5005).",
              parameters=(_path("feed"), {"name": "format", "in": "path", "required": True,
                                          "schema": {"enum": ["rss", "atom", "json"]}}),
              tags=("feeds",)),
    Operation("directory.page", "GET", "/feeds", "Every feed, as a page", access.PUBLIC,
              {200: R("HTML page", media_type=HTML)}, tags=("feeds",)),
    Operation("directory.opml", "GET", "/feeds.opml", "Every feed, as OPML 2.0", access.PUBLIC,
              {200: R("OPML", media_type="text/x-opml")}, tags=("feeds",)),
    Operation("feed.media", "GET", "/media/{set}/{name}.{ext}", "A picture rendition",
              access.PUBLIC,
              {200: R("The image; immutable (content-addressed)", media_type="image/*"),
               404: R("No such rendition, or no live article shows it (withdrawn, or not "
                      "yet released from its embargo).", Error)},
              parameters=(_path("set"), _path("name"),
                          {"name": "ext", "in": "path", "required": True,
                           "schema": {"enum": ["jpg", "png", "webp", "avif"]}}),
              tags=("media",)),
    Operation("websub.hub", "POST", "/hub", "Subscribe to a feed (WebSub hub)", access.PUBLIC,
              {202: R("Taken; the callback will get a verification GET.", HubAccepted),
               400: R(openapi.ERRORS[400], Error), 404: NOT_FOUND,
               413: R(openapi.ERRORS[413], Error), 415: R(openapi.ERRORS[415], Error),
               422: R("A hub.* field is missing or wrong; `field` names it.", Error),
               503: R("The hub cannot take requests right now.", Error)},
              request_media="application/x-www-form-urlencoded",
              request_schema={"type": "object", "required": ["hub.mode", "hub.topic",
                                                             "hub.callback"],
                              "properties": {
                                  "hub.mode": {"enum": ["subscribe", "unsubscribe"]},
                                  "hub.topic": {"type": "string", "format": "uri"},
                                  "hub.callback": {"type": "string", "format": "uri"},
                                  "hub.lease_seconds": {"type": "integer"},
                                  "hub.secret": {"type": "string", "maxLength": 199}}},
              tags=("websub",)),
    Operation("feed.healthz", "GET", "/healthz", "Health", access.PUBLIC,
              {200: R("The database and Redis answer."), 503: R("A part is down.")},
              tags=("operations",)),
]  # fmt: skip

_QUERY_NAME = {"type": "string", "maxLength": 300}
PARTNER_ERRORS = {
    400: R(
        "A parameter is malformed, or the cursor is not one of this key's for these "
        "filters (`field` names the parameter).",
        Error,
    ),
    401: R(openapi.ERRORS[401], Error),
    403: R(openapi.ERRORS[403], Error),
}
ETAG = {
    "ETag": "Weak validator of the body; send it as If-None-Match",
    "Vary": "Accept-Encoding, Authorization",
}
OPERATIONS += [
    Operation("partner.items", "GET", "/v1/partner/items", "Every change, in order (ninjs 3.1)",
              SCOPE_CONTENT_READ,
              {200: R("A page of changes: `items[i]` is a ninjs 3.1 item, `changes[i]` says "
                      "what happened to it.", ItemsPage, headers=ETAG),
               304: R("Not modified (If-None-Match)."), **PARTNER_ERRORS},
              description="Walk the change log from an empty cursor (the first change) or "
              "from `since` (a time). Store `next` after storing the page's items; the same "
              "cursor always gives the same changes. Every publication, update, embargo "
              "release and withdrawal (a tombstone, `pubStatus: canceled`) is one change; an "
              "item may appear several times, newest last. Keys with `embargo:read` also get "
              "versions still under embargo, flagged `embargoed`. See docs/api.md.",
              parameters=(
                  {"name": "cursor", "in": "query", "required": False,
                   "schema": {"type": "string", "maxLength": 200}},
                  {"name": "limit", "in": "query", "required": False,
                   "schema": {"type": "integer", "minimum": 1, "maximum": 500, "default": 50}},
                  {"name": "since", "in": "query", "required": False,
                   "schema": {"type": "string", "format": "date-time"},
                   "description": "Start at the first change made at or after this time "
                   "(instead of a cursor)."},
                  {"name": "region", "in": "query", "required": False, "schema": _QUERY_NAME},
                  {"name": "source", "in": "query", "required": False, "schema": _QUERY_NAME},
              ),
              tags=("partners",)),
    Operation("partner.item", "GET", "/v1/partner/items/{article_id}",
              "One item: its current version, or its history", SCOPE_CONTENT_READ,
              {200: R("The current version as a ninjs 3.1 item (a tombstone if withdrawn); "
                      "with `versions=all`, every change of it in order.", ItemHistory,
                      headers={**ETAG, "Newsflow-Sequence": "The change this version is",
                               "Newsflow-Operation": "What that change was"}),
               304: R("Not modified (If-None-Match)."),
               404: R("No item with this id that this key may see.", Error),
               **PARTNER_ERRORS},
              parameters=(_path("article_id", "^[0-9a-f]{1,32}$"),
                          {"name": "versions", "in": "query", "required": False,
                           "schema": {"enum": ["all"]}}),
              tags=("partners",)),
]  # fmt: skip
OPERATIONS += openapi.contract_operations()


def document() -> dict:
    return openapi.document(TITLE, VERSION, DESCRIPTION, OPERATIONS, limited=False)


bp = Blueprint("contract", __name__)


@bp.get("/openapi.json")
def openapi_document():
    body = current_app.extensions["newsflow.openapi"]
    return Response(body, content_type="application/json; charset=utf-8")


@bp.get("/docs/")
def docs():
    return Response(apidocs.index_html(TITLE), content_type="text/html; charset=utf-8")


@bp.get("/docs/<name>")
def docs_asset(name: str):
    found = apidocs.asset(name)
    if found is None:
        abort(404)
    data, kind = found
    resp = Response(data, content_type=kind)
    resp.cache_control.public = True
    resp.cache_control.max_age = 86400
    return resp


def init_app(app: Flask) -> None:
    app.extensions["newsflow.openapi"] = json.dumps(document(), ensure_ascii=False)
    app.register_blueprint(bp)
