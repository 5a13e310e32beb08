"""WSGI entry point for production servers: ``granian --interface wsgi feed.wsgi:app``."""

from feed.app import create_app
from shared import logs
from shared.settings import Settings

settings = Settings.from_env()
logs.setup("feed", settings.log_format)

app = create_app(settings)
