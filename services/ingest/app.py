"""The ingest service: ``create_app()`` builds the write API."""

from __future__ import annotations

from flask import Flask

from ingest import auth, contract, errors, limits, observe, views
from ingest.context import IngestContext
from shared.httpmetrics import HttpMetrics
from shared.settings import Settings


def create_app(settings: Settings | None = None, context: IngestContext | None = None) -> Flask:
    settings = settings or Settings.from_env()
    app = Flask(__name__, static_folder=None)  # no static files: every route is in the contract
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.json.ensure_ascii = False  # CJK stays readable in responses
    app.extensions["newsflow"] = context or IngestContext.build(settings)
    errors.init_app(app)
    # Before auth: an answer auth gives itself carries the request id too.
    observe.init_app(app)
    # Authentication first: the rate limit is counted per key, so it needs the principal.
    auth.init_app(app)
    limits.init_app(app)
    views.init_app(app)
    contract.init_app(app)
    # Requests by route and status, and their latency (shared.httpmetrics).
    app.wsgi_app = HttpMetrics(app.wsgi_app)
    return app
