"""Entry point for ``celery -A render.worker worker``: the one place the app is built at import."""

from render import observe
from render.app import create_app

app = create_app()
observe.install(app)
