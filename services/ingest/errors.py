"""Every error answers as JSON ``{"error", "detail", "field"}``; none shows a stack trace."""

from __future__ import annotations

import logging

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException

from shared.errors import Problem, ProblemError

log = logging.getLogger(__name__)

_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    415: "unsupported_media_type",
    429: "too_many_requests",
}


def problem_response(problem: Problem, status: int, headers: dict[str, str] | None = None):
    return jsonify(problem.as_json()), status, headers or {}


def init_app(app: Flask) -> None:
    @app.errorhandler(ProblemError)
    def _problem(exc: ProblemError):
        return problem_response(exc.problem, exc.status, exc.headers)

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        if exc.response is not None:
            return exc.response  # made already, in our shape (the rate limiter's 429)
        status = exc.code or 500
        detail = exc.description or exc.name
        if status == 413:
            limit = app.config.get("MAX_CONTENT_LENGTH")
            detail = f"the request body is larger than the {limit}-byte limit"
        return problem_response(Problem(_CODES.get(status, exc.name.lower()), detail), status)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("unhandled error")
        return problem_response(
            Problem("internal_error", "an unexpected error occurred; it has been logged"), 500
        )
