"""What every newsflow service needs: the article schema, the store, task names, artifacts.

This package imports no service, no Flask and no Celery (an import-linter contract says so).
"""
