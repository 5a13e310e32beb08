"""The feed service: ``create_app()`` builds the read side (and the WebSub hub)."""

from __future__ import annotations

from flask import Flask

from feed import auth, contract, directory, errors, partner, views, websub
from feed.broker import Sender
from feed.context import FeedContext
from feed.fastpath import FeedFastPath
from shared import keys
from shared.settings import Settings


def create_app(settings: Settings | None = None, sender: Sender | None = None) -> Flask:
    """``sender``: how hub requests send their verification task (default: a Celery client)."""
    settings = settings or Settings.from_env()
    app = Flask(__name__, static_folder=None)  # no static files: every route is in the contract
    app.json.ensure_ascii = False
    # The one route that takes a body is the hub (a few form fields); a larger body, chunked
    # or not, is a 413 before it is read into memory.
    app.config["MAX_CONTENT_LENGTH"] = websub.MAX_REQUEST_BYTES
    ctx = app.extensions["newsflow"] = FeedContext.build(settings)
    errors.init_app(app)
    auth.init_app(app)
    views.init_app(app)
    directory.init_app(app)
    websub.init_app(app, sender)
    partner.init_app(app)
    contract.init_app(app)
    app.wsgi_app = FeedFastPath(
        app.wsgi_app,
        ctx.artifacts,
        max_age=keys.FEED_MAX_AGE,
        links=websub.feed_links(settings),
    )
    return app
