"""Logs and metrics of the feed service: the request id and route label of the requests that
reach Flask, and ``/metrics`` (shared.logs, shared.metrics; docs/operations.md).

Feed polls answered by the fast path never reach Flask: they are counted by
``shared.httpmetrics.HttpMetrics`` around it, under the feed route's label, and get no request
id and no log line (a poll is no event; the hot path stays as fast as it was:
docs/benchmarks.md, Serving).
"""

from __future__ import annotations

import logging

from flask import Blueprint, Flask, Response, g, request

from shared import logs, metrics
from shared.httpmetrics import ROUTE_KEY

log = logging.getLogger(__name__)
# The label of the feed route (feed.views), also for the answers of the fast path.
FEED_ROUTE = "/feeds/<path:rest>"

bp = Blueprint("observe", __name__)


def default_route(path: str) -> str:
    """The label of a request Flask never saw: only the fast path answers without it."""
    return FEED_ROUTE if path.startswith("/feeds/") else "unmatched"


@bp.get("/metrics")
def metrics_view():
    return Response(metrics.exposition(), content_type=metrics.CONTENT_TYPE_LATEST)


def init_app(app: Flask) -> None:
    """Register before ``auth``, whose hook may answer a request itself."""

    @app.before_request
    def _begin():
        header = request.headers.get("X-Request-ID")
        rid, replaced = logs.request_id_from(header)
        g.request_id = rid
        g.log_token = logs.bind(request_id=rid)
        request.environ[ROUTE_KEY] = request.url_rule.rule if request.url_rule else None
        if replaced:
            log.warning(
                "X-Request-ID refused; a new id replaces it",
                extra={"refused_length": len(header or "")},
            )

    @app.after_request
    def _end(response):
        rid = g.get("request_id")
        if rid is not None:
            response.headers["X-Request-ID"] = rid
        return response

    @app.teardown_request
    def _unbind(exc):
        token = g.pop("log_token", None)
        if token is not None:
            logs.reset(token)

    app.register_blueprint(bp)
