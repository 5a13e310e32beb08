"""WSGI entry point for production servers: ``gunicorn ingest.wsgi:app``."""

import logging

from ingest.app import create_app

# Warnings and errors of every library reach the process's log (flask-limiter, for one, says
# there when it lets a request through unchecked), not only those of loggers with handlers.
logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")

app = create_app()
