"""OpenAPI 3.1 documents built from the pydantic models the services validate with, so the
contract partners code against is never a hand-written copy that drifts.

A service lists its operations (``Operation``: the Flask endpoint, method, path, what it
requires, the request and response models); ``document`` turns the list into an OpenAPI 3.1
document whose component schemas are the models' own JSON Schemas (OpenAPI 3.1 uses JSON
Schema 2020-12 as is). The same list gives the service's access rules (``rules``), so a route
is documented and guarded by one declaration.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from shared import access
from shared.api_models import Error

OPENAPI_VERSION = "3.1.0"
SECURITY_SCHEME = "partnerKey"


@dataclass(frozen=True)
class Response:
    description: str
    model: type[BaseModel] | None = None
    media_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)  # name -> description


@dataclass(frozen=True)
class Operation:
    endpoint: str  # the Flask endpoint name, e.g. "ingest.post_article"
    method: str
    path: str  # OpenAPI template, e.g. "/v1/articles/{article_id}"
    summary: str
    requires: str  # access.PUBLIC, access.ANY_KEY or a scope
    responses: dict[int, Response]
    description: str = ""
    request: type[BaseModel] | None = None
    request_media: str = "application/json"
    request_schema: dict | None = None  # a body that is not a model (e.g. image bytes)
    parameters: tuple[dict, ...] = ()
    tags: tuple[str, ...] = ()


ERRORS = {
    400: "The request could not be read (not JSON, not UTF-8, malformed framing).",
    401: "No API key, or a key that is invalid, revoked or expired (`WWW-Authenticate: Bearer`).",
    403: "The key lacks the scope, may not write this source, or is used from a disallowed "
    "address.",
    404: "Nothing at this address, or an article this key may not read.",
    413: "The body is larger than the limit named in the detail.",
    415: "The Content-Type is not the one this operation takes.",
    422: "The body is well-formed but not a valid value; `field` names the first problem.",
    429: "Over the key's rate limit; `Retry-After` says when to try again.",
}
RATE_HEADERS = {
    "RateLimit-Policy": "The limit that applies: quota `q` per window `w` seconds "
    "(IETF httpapi draft).",
    "RateLimit": "Remaining requests `r` and seconds `t` until the window resets.",
}


def contract_operations() -> list[Operation]:
    """The routes every service has for its own contract (``contract`` blueprint): the
    document and its reference page. Listed so they have access rules; not in the paths."""
    return [
        Operation("contract.openapi_document", "GET", "/openapi.json", "This document",
                  access.PUBLIC, {200: Response("OpenAPI 3.1")}),
        Operation("contract.docs", "GET", "/docs/", "API reference (Swagger UI)",
                  access.PUBLIC, {200: Response("HTML", media_type="text/html")}),
        Operation("contract.docs_asset", "GET", "/docs/{name}", "The reference page's files",
                  access.PUBLIC, {200: Response("A script, style or icon"),
                                  404: Response("No such file", Error)}),
    ]  # fmt: skip


def metrics_operation() -> Operation:
    """``/metrics`` (Prometheus), which every web service has: listed for its access rule, left
    out of the partner document (an operator's route: docs/operations.md, "Metrics")."""
    return Operation("observe.metrics_view", "GET", "/metrics", "Prometheus metrics",
                     access.METRICS, {200: Response("Prometheus text format 0.0.4",
                                                    media_type="text/plain")})  # fmt: skip


def rules(operations: list[Operation]) -> dict[str, str]:
    return {op.endpoint: op.requires for op in operations}


def _models(operations: list[Operation]) -> list[type[BaseModel]]:
    seen: dict[str, type[BaseModel]] = {"Error": Error}
    for op in operations:
        for model in [op.request, *(r.model for r in op.responses.values())]:
            if model is not None:
                seen.setdefault(model.__name__, model)
    return list(seen.values())


def _content(model: type[BaseModel] | None, media: str) -> dict:
    if model is None:
        return {media: {}}
    return {media: {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}}


def _response(status: int, response: Response, limited: bool) -> dict:
    out: dict = {"description": response.description}
    if response.model is not None or response.media_type != "application/json":
        out["content"] = _content(response.model, response.media_type)
    headers = dict(response.headers)
    if limited:
        headers |= RATE_HEADERS
    if status == 429:
        headers["Retry-After"] = "Seconds to wait before the next request (RFC 9110 10.2.3)."
    if headers:
        out["headers"] = {
            name: {"description": text, "schema": {"type": "string"}}
            for name, text in sorted(headers.items())
        }
    return out


def _operation(op: Operation, limited: bool) -> dict:
    out: dict = {
        "operationId": op.endpoint.replace(".", "_"),
        "summary": op.summary,
        "tags": list(op.tags),
    }
    if op.description:
        out["description"] = op.description
    if op.parameters:
        out["parameters"] = list(op.parameters)
    if op.request is not None:
        out["requestBody"] = {"required": True, "content": _content(op.request, op.request_media)}
    elif op.request_schema is not None:
        out["requestBody"] = {
            "required": True,
            "content": {op.request_media: {"schema": op.request_schema}},
        }
    responses = {str(s): _response(s, r, limited) for s, r in sorted(op.responses.items())}
    statuses = set(op.responses)
    if op.requires != access.PUBLIC:
        statuses |= {401, 403}
        # OpenAPI 3.1 (4.8.30.1): for schemes other than OAuth2/OpenID the list names the
        # roles required; here the scope the key must hold.
        scopes = [] if op.requires == access.ANY_KEY else [op.requires]
        out["security"] = [{SECURITY_SCHEME: scopes}]
    if limited:
        statuses |= {429}
    for status in sorted(statuses - set(op.responses)):
        responses[str(status)] = _response(status, Response(ERRORS[status], Error), limited)
    out["responses"] = dict(sorted(responses.items()))
    return out


def document(
    title: str, version: str, description: str, operations: list[Operation], limited: bool
) -> dict:
    """``limited``: the service rate-limits its operations (429 and RateLimit fields)."""
    _, defs = models_json_schema(
        [(m, "validation") for m in _models(operations)],
        ref_template="#/components/schemas/{model}",
    )
    paths: dict[str, dict] = {}
    for op in operations:
        if op.path.startswith("/openapi") or op.path.startswith("/docs"):
            continue  # the contract does not describe itself
        if op.requires == access.METRICS:
            continue  # operators' route, not the partners' API
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op, limited)
    return {
        "openapi": OPENAPI_VERSION,
        "info": {"title": title, "version": version, "description": description},
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": dict(sorted(defs.get("$defs", {}).items())),
            "securitySchemes": {
                SECURITY_SCHEME: {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A partner key, `Authorization: Bearer nf_live_…` "
                    "(`newsflow partner add`). See docs/api.md.",
                }
            },
        },
    }


def dumps(doc: dict) -> str:
    return json.dumps(doc, ensure_ascii=False, indent=2) + "\n"
