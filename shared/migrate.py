"""Bring a database to the newest schema with Alembic (``newsflow db upgrade``)."""

from __future__ import annotations

from alembic import command
from alembic.config import Config

from shared.db import normalize_url


def alembic_config(database_url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", "shared:migrations")
    cfg.set_main_option("sqlalchemy.url", normalize_url(database_url).replace("%", "%%"))
    return cfg


def upgrade(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)
