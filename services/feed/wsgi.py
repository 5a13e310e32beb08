"""WSGI entry point for production servers: ``gunicorn feed.wsgi:app``."""

from feed.app import create_app

app = create_app()
