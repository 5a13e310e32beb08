"""websub: verified WebSub subscriptions (the feed service is its own hub)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 16:55:31.083862
"""

import sqlalchemy as sa
from alembic import op

import shared.models

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "websub_subscriptions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("topic", sa.Text(), nullable=False),
        sa.Column("feed_key", sa.String(length=300), nullable=False),
        sa.Column("fmt", sa.String(length=8), nullable=False),
        sa.Column("callback", sa.Text(), nullable=False),
        sa.Column("secret", sa.String(length=200), nullable=True),
        sa.Column("lease_seconds", sa.Integer(), nullable=False),
        sa.Column("created_at", shared.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("verified_at", shared.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", shared.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("delivered_sha256", sa.String(length=64), nullable=True),
        sa.Column("delivered_at", shared.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_websub_subscriptions_feed",
        "websub_subscriptions",
        ["feed_key", "expires_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_websub_subscriptions_feed", table_name="websub_subscriptions")
    op.drop_table("websub_subscriptions")
