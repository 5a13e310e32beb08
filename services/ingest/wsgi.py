"""WSGI entry point for production servers: ``gunicorn ingest.wsgi:app``."""

from ingest.app import create_app
from shared import logs
from shared.settings import Settings

settings = Settings.from_env()
# Every library's lines too (flask-limiter says there when it lets a request through
# unchecked), as JSON or console text (LOG_FORMAT).
logs.setup("ingest", settings.log_format)

app = create_app(settings)
