"""Reports of the weekly loop: a confirmation of no change, a quantity in the target's unit, and the range of an
approximate percentage

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("report") as batch:
        batch.add_column(sa.Column("no_change", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("quantity", sa.Numeric(14, 4), nullable=True))
        batch.add_column(sa.Column("quantity_unit", sa.String(20), nullable=True))
        batch.add_column(sa.Column("percent_low", sa.Numeric(5, 1), nullable=True))
        batch.add_column(sa.Column("percent_high", sa.Numeric(5, 1), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("report") as batch:
        batch.drop_column("percent_high")
        batch.drop_column("percent_low")
        batch.drop_column("quantity_unit")
        batch.drop_column("quantity")
        batch.drop_column("no_change")
