"""WSGI entry point for production servers: ``gunicorn ingest.wsgi:app``."""

from ingest.app import create_app

app = create_app()
