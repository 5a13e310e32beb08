"""Migration 0008 gives every article live at the upgrade its pictures' references, so no
picture that was served before the upgrade stops being served after it."""

from __future__ import annotations

import json

import sqlalchemy as sa

from shared import migrate
from shared.db import make_engine


def insert(conn, article_id: str, status: str, published: int | None, media, published_media):
    conn.execute(
        sa.text(
            "INSERT INTO articles (id, source, guid, version, content_hash, doc, status, media, "
            "version_created, first_created, received_at, updated_at, published_version, "
            "published_media) VALUES (:id, 's', :id, 1, 'h', '{}', :status, :media, "
            "'2026-01-01 00:00:00', '2026-01-01 00:00:00', '2026-01-01 00:00:00', "
            "'2026-01-01 00:00:00', :pv, :pm)"
        ),
        {
            "id": article_id,
            "status": status,
            "pv": published,
            "media": json.dumps(media),
            "pm": None if published_media is None else json.dumps(published_media),
        },
    )


def test_the_upgrade_references_the_pictures_of_live_articles_only(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    migrate.upgrade(url, "0006")
    ok = {"status": "ok", "set": "a" * 64, "renditions": []}
    engine = make_engine(url)
    with engine.begin() as conn:
        insert(conn, "live", "published", 1, {"p": ok}, {"p": ok})
        # Published before 0004 kept the published pictures apart: the current ones count.
        insert(conn, "old", "published", 1, {"p": {**ok, "set": "b" * 64}}, None)
        insert(conn, "gone", "withdrawn", None, {"p": {**ok, "set": "c" * 64}}, None)
        insert(conn, "failed", "published", 1, {"p": {"status": "failed"}}, None)
    migrate.upgrade(url)
    with engine.connect() as conn:
        refs = set(conn.execute(sa.text("SELECT set_key, article_id FROM media_refs")).all())
    engine.dispose()
    assert refs == {("a" * 64, "live"), ("b" * 64, "old")}
