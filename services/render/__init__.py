"""The render workers: images, pages, feeds and notifications, as Celery tasks."""
