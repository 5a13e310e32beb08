"""published snapshot: the live version's document and pictures; feed log by article

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 20:45:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('articles', sa.Column('published_doc', sa.JSON(), nullable=True))
    op.add_column('articles', sa.Column('published_media', sa.JSON(), nullable=True))
    op.create_index('ix_feed_log_article', 'feed_log', ['article_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_feed_log_article', table_name='feed_log')
    op.drop_column('articles', 'published_media')
    op.drop_column('articles', 'published_doc')
