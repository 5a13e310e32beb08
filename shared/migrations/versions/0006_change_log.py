"""change log: every change of every article in commit order, for partners; embargo column

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 17:30:00.000000
"""

import sqlalchemy as sa
from alembic import op

import shared.models

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.add_column(
        "articles",
        sa.Column("embargoed_until", shared.models.UTCDateTime(timezone=True), nullable=True),
    )
    op.create_index(
        "ix_articles_status_embargo", "articles", ["status", "embargoed_until"], unique=False
    )
    op.create_table(
        "changes",
        sa.Column("seq", SEQ, autoincrement=True, nullable=False),
        sa.Column("article_id", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("op", sa.String(length=16), nullable=False),
        sa.Column("audience", sa.String(length=8), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("at", shared.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("doc", sa.JSON(), nullable=True),
        sa.Column("media", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("seq"),
    )
    op.create_index("ix_changes_article", "changes", ["article_id", "seq"], unique=False)
    op.create_index("ix_changes_source", "changes", ["source", "seq"], unique=False)
    op.create_index("ix_changes_at", "changes", ["at"], unique=False)
    op.create_table(
        "change_places",
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("seq", SEQ, nullable=False),
        sa.PrimaryKeyConstraint("name", "seq"),
    )


def downgrade() -> None:
    op.drop_table("change_places")
    op.drop_index("ix_changes_at", table_name="changes")
    op.drop_index("ix_changes_source", table_name="changes")
    op.drop_index("ix_changes_article", table_name="changes")
    op.drop_table("changes")
    op.drop_index("ix_articles_status_embargo", table_name="articles")
    op.drop_column("articles", "embargoed_until")
