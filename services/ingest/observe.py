"""Logs and metrics of the ingest API: the request id, the route label, article outcomes, and
``/metrics`` (shared.logs, shared.metrics; docs/operations.md, "Logs" and "Metrics").

Every request gets a request id: the client's ``X-Request-ID`` when it is a plain token, else
a fresh one (a hostile value is replaced, and only its length is logged). It is bound to every
log line of the request, echoed in the answer, and written into the outbox row of the article
the request made, so the relay and the worker log it too.
"""

from __future__ import annotations

import logging
import time

from flask import Blueprint, Flask, Response, g, request

from shared import logs, metrics
from shared.httpmetrics import ROUTE_KEY

log = logging.getLogger(__name__)
access_log = logging.getLogger("ingest.access")
POST_ARTICLE = "ingest.post_article"

bp = Blueprint("observe", __name__)


def request_id() -> str | None:
    return g.get("request_id")


def article_outcome(article_id: str, version: int, outcome: str) -> None:
    """An article post ended in ``outcome`` (created, updated, unchanged)."""
    metrics.INGEST_ARTICLES.labels(outcome).inc()
    logs.bind(article_id=article_id, version=version)  # undone with the request's context
    log.info("article %s", outcome, extra={"outcome": outcome})


@bp.get("/metrics")
def metrics_view():
    return Response(metrics.exposition(), content_type=metrics.CONTENT_TYPE_LATEST)


def _refused(response) -> None:
    body = response.get_json(silent=True) if response.is_json else None
    code = body.get("error") if isinstance(body, dict) else None
    outcome = "refused" if response.status_code < 500 else "error"
    metrics.INGEST_ARTICLES.labels(outcome).inc()
    if outcome == "refused":
        metrics.INGEST_REFUSALS.labels(str(code or "unknown")[:64]).inc()
    log.info("article %s", outcome, extra={"status": response.status_code, "error": code})


def init_app(app: Flask) -> None:
    """Register before ``auth``: its hook may answer a request itself, and that answer needs
    its request id too."""

    @app.before_request
    def _begin():
        header = request.headers.get("X-Request-ID")
        rid, replaced = logs.request_id_from(header)
        g.request_id = rid
        g.started = time.perf_counter()
        g.log_token = logs.bind(request_id=rid)
        request.environ[ROUTE_KEY] = request.url_rule.rule if request.url_rule else None
        if replaced:
            log.warning(
                "X-Request-ID refused (not 1-%d characters of A-Z a-z 0-9 . _ : -); "
                "a new id replaces it",
                logs.REQUEST_ID_MAX,
                extra={"refused_length": len(header or "")},
            )

    @app.after_request
    def _end(response):
        rid = g.get("request_id")
        if rid is not None:
            response.headers["X-Request-ID"] = rid
        if request.endpoint == POST_ARTICLE and response.status_code >= 400:
            _refused(response)
        # Scrapes and passing health probes (every few seconds under compose) are no news.
        quiet = request.endpoint == "observe.metrics_view" or (
            request.endpoint == "ingest.healthz" and response.status_code == 200
        )
        if not quiet:
            access_log.info(
                "%s %s %s",
                request.method,
                request.environ.get(ROUTE_KEY) or "unmatched",
                response.status_code,
                extra={
                    "method": request.method,
                    "route": request.environ.get(ROUTE_KEY) or "unmatched",
                    "status": response.status_code,
                    "duration_ms": round((time.perf_counter() - g.get("started", 0)) * 1000, 2),
                },
            )
        return response

    @app.teardown_request
    def _unbind(exc):
        token = g.pop("log_token", None)
        if token is not None:
            logs.reset(token)

    app.register_blueprint(bp)
