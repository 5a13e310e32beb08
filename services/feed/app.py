"""The feed service: ``create_app()`` builds the read side."""

from __future__ import annotations

from flask import Flask

from feed import directory, errors, views
from feed.context import FeedContext
from feed.fastpath import FeedFastPath
from shared import keys
from shared.settings import Settings


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or Settings.from_env()
    app = Flask(__name__)
    app.json.ensure_ascii = False
    app.extensions["newsflow"] = FeedContext.build(settings)
    errors.init_app(app)
    views.init_app(app)
    directory.init_app(app)
    app.wsgi_app = FeedFastPath(app.wsgi_app, settings.artifacts_dir, max_age=keys.FEED_MAX_AGE)
    return app
