"""processed_message.replied_at: replies of a handled message are resent after a crash until confirmed

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("processed_message") as batch_op:
        batch_op.add_column(sa.Column("replied_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("processed_message") as batch_op:
        batch_op.drop_column("replied_at")
