"""A coordinator's 催办 of a unit (催办 米林县): who chased whom, when, and what was sent

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "urge",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("urged_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("local_day", sa.Date(), nullable=False),
        sa.Column("recipients", sa.Integer(), nullable=False),
        sa.Column("overdue", sa.Integer(), nullable=False),
        sa.Column("unreported", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_urge_organisation_id_organisation"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(["urged_by_id"], ["person.id"], name=op.f("fk_urge_urged_by_id_person")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_urge")),
    )
    op.create_index("ix_urge_org_created", "urge", ["organisation_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_urge_org_created", table_name="urge")
    op.drop_table("urge")
