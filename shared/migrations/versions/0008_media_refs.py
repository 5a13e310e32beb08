"""media references: which live article shows which rendition set (withdrawn pictures are
no longer served unless another live article shows them)

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27 18:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "media_refs",
        sa.Column("set_key", sa.String(length=64), nullable=False),
        sa.Column("article_id", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("set_key", "article_id"),
    )
    op.create_index("ix_media_refs_article", "media_refs", ["article_id"], unique=False)
    _backfill()


def _backfill() -> None:
    """Every article live now keeps its pictures served: the published version's pictures
    (or, for rows published before 0004 kept them apart, the current ones)."""
    conn = op.get_bind()
    articles = sa.table(
        "articles",
        sa.column("id", sa.String),
        sa.column("status", sa.String),
        sa.column("published_version", sa.Integer),
        sa.column("media", sa.JSON),
        sa.column("published_media", sa.JSON),
    )
    refs = sa.table("media_refs", sa.column("set_key", sa.String), sa.column("article_id"))
    rows = conn.execute(
        sa.select(articles.c.id, articles.c.media, articles.c.published_media).where(
            articles.c.published_version.is_not(None), articles.c.status != "withdrawn"
        )
    )
    batch = []
    for article_id, media, published_media in rows:
        shown = published_media if published_media is not None else media
        for m in (shown or {}).values():
            if isinstance(m, dict) and m.get("status") == "ok" and isinstance(m.get("set"), str):
                batch.append({"set_key": m["set"], "article_id": article_id})
    unique = list({(r["set_key"], r["article_id"]): r for r in batch}.values())
    if unique:
        op.bulk_insert(refs, unique)


def downgrade() -> None:
    op.drop_index("ix_media_refs_article", table_name="media_refs")
    op.drop_table("media_refs")
