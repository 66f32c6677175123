"""unreachable identities

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04 23:20:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import core.models

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('channel_identity', schema=None) as batch_op:
        batch_op.add_column(sa.Column('unreachable_since', core.models.UtcDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('channel_identity', schema=None) as batch_op:
        batch_op.drop_column('unreachable_since')
