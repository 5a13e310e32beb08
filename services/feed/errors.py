"""Errors as JSON ``{"error", "detail", "field"}``; never a stack trace."""

from __future__ import annotations

import logging

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException

from shared.artifacts import StoreUnavailable
from shared.errors import Problem, ProblemError

log = logging.getLogger(__name__)

_DETAIL = {
    404: "nothing is published at this address",
    410: "this article was withdrawn by its publisher",
}

STORE_DOWN = "the artifact store is not answering; try again shortly"


def init_app(app: Flask) -> None:
    @app.errorhandler(ProblemError)
    def _problem(exc: ProblemError):
        resp = jsonify(exc.problem.as_json())
        resp.status_code = exc.status
        resp.headers.update(exc.headers)
        return resp

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        status = exc.code or 500
        detail = _DETAIL.get(status, exc.description or exc.name)
        code = exc.name.lower().replace(" ", "_")
        resp = jsonify(Problem(code, detail).as_json())
        resp.status_code = status
        # Headers the status needs, such as Allow on a 405 (RFC 9110 15.5.6).
        for name, value in exc.get_headers():
            if name.lower() != "content-type":
                resp.headers[name] = value
        return resp

    @app.errorhandler(StoreUnavailable)
    def _store(exc: StoreUnavailable):
        log.warning("artifact store unavailable: %s", exc)
        resp = jsonify(Problem("unavailable", STORE_DOWN).as_json())
        resp.status_code = 503
        resp.headers["Retry-After"] = "5"
        return resp

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("unhandled error")
        return jsonify(Problem("internal_error", "an unexpected error occurred").as_json()), 500
