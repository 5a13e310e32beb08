"""The ingest API's contract: every route, what it requires and what it answers. The OpenAPI
document (``/openapi.json``, docs/openapi/ingest.json) and the access rules (ingest.auth)
are both made from this list, so a route is documented and guarded by one declaration."""

from __future__ import annotations

import json

from flask import Blueprint, Flask, Response, abort, current_app

from shared import access, apidocs, openapi
from shared.api_models import ArticleAccepted, ArticleStatus, Error, Health, MediaStored
from shared.openapi import Operation
from shared.openapi import Response as R
from shared.partners import SCOPE_INGEST_WRITE
from shared.schema import ArticleIn

TITLE = "newsflow ingest API"
VERSION = "1.0.0"
DESCRIPTION = (
    "Write articles and pictures into newsflow, and follow each article through the pipeline. "
    "Authentication, scopes, errors, limits and versioning: docs/api.md."
)
ARTICLE_ID = {
    "name": "article_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": "^[0-9a-f]{32}$"},
}

OPERATIONS = [
    Operation(
        "ingest.post_article", "POST", "/v1/articles", "Create or update an article",
        SCOPE_INGEST_WRITE,
        {
            200: R("Identical content was posted before: nothing changed.", ArticleAccepted),
            202: R("Stored; the pipeline will publish it.", ArticleAccepted,
                   headers={"Location": "The article's status URL."}),
            400: R(openapi.ERRORS[400], Error),
            409: R("An older versionCreated than the stored version: nothing changed.", Error),
            413: R(openapi.ERRORS[413], Error),
            415: R(openapi.ERRORS[415], Error),
            422: R(openapi.ERRORS[422], Error),
        },
        description="Upserted by (source, guid). The key must be bound to the article's "
        "`source`. `pubStatus: canceled` withdraws the article.",
        request=ArticleIn, tags=("articles",),
    ),
    Operation(
        "ingest.get_article", "GET", "/v1/articles/{article_id}", "An article's status",
        access.ANY_KEY,
        {200: R("The article's state and stored content.", ArticleStatus),
         404: R(openapi.ERRORS[404], Error)},
        description="For an `admin` key, or a key bound to the article's source. The content "
        "of an embargoed article is shown only to keys with `embargo:read`.",
        parameters=(ARTICLE_ID,), tags=("articles",),
    ),
    Operation(
        "ingest.delete_article", "DELETE", "/v1/articles/{article_id}", "Withdraw an article",
        SCOPE_INGEST_WRITE,
        {200: R("Withdrawn already: nothing changed.", ArticleAccepted),
         202: R("Withdrawn: a new version with `pubStatus: canceled`; its page answers 410 "
                "and it leaves every feed at the next rebuild.", ArticleAccepted,
                headers={"Location": "The article's status URL."}),
         404: R("No such article, or one of a source this key may not write.", Error),
         409: R("The stored version no longer passes the article schema; POST the withdrawal "
                "with `pubStatus: canceled` instead.", Error)},
        description="The same as posting the stored article again with "
        "`pubStatus: canceled`: for a key with `ingest:write` bound to the article's "
        "`source`. Partners get a tombstone (pull and webhooks). Repeating it is harmless.",
        parameters=(ARTICLE_ID,), tags=("articles",),
    ),
    Operation(
        "ingest.post_media", "POST", "/v1/media", "Upload a picture's bytes",
        SCOPE_INGEST_WRITE,
        {201: R("Stored, content-addressed; use `uri` as a picture's uri.", MediaStored),
         400: R(openapi.ERRORS[400], Error), 413: R(openapi.ERRORS[413], Error),
         415: R("The bytes are not a JPEG, PNG, GIF or WebP image.", Error)},
        request_media="application/octet-stream",
        request_schema={"type": "string", "contentMediaType": "image/*"},
        parameters=({"name": "filename", "in": "query", "required": False,
                     "schema": {"type": "string", "maxLength": 255}},),
        tags=("media",),
    ),
    Operation(
        "ingest.schema", "GET", "/v1/schema", "The article JSON Schema", access.PUBLIC,
        {200: R("JSON Schema 2020-12 of the article (shared/article.schema.json).")},
        tags=("contract",),
    ),
    Operation(
        "ingest.healthz", "GET", "/healthz", "Health", access.PUBLIC,
        {200: R("The database and Redis answer.", Health),
         503: R("A part is down; the body says which.", Health)},
        tags=("operations",),
    ),
]  # fmt: skip
OPERATIONS += openapi.contract_operations()


def document() -> dict:
    return openapi.document(TITLE, VERSION, DESCRIPTION, OPERATIONS, limited=True)


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
