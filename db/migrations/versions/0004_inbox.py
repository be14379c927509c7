"""The durable inbox: incoming updates stored before they are acknowledged, per-chat leases, worker heartbeats,
throttling of wrong invite codes, and an index for delivering a chat's replies in order

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "inbox",
        sa.Column("id", BIG_ID, primary_key=True),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("message_id", sa.String(200), nullable=False),
        sa.Column("chat_id", sa.String(100), nullable=False),
        sa.Column("user_id", sa.String(100), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("handled_at", sa.DateTime(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbox")),
        sa.UniqueConstraint("channel", "message_id", name=op.f("uq_inbox_channel_message_id")),
    )
    op.create_index("ix_inbox_chat_status", "inbox", ["channel", "chat_id", "status", "id"])
    op.create_index("ix_inbox_status_received", "inbox", ["status", "received_at"])
    op.create_table(
        "inbox_chat",
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("chat_id", sa.String(100), nullable=False),
        sa.Column("claimed_by", sa.String(100), nullable=True),
        sa.Column("claimed_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("channel", "chat_id", name=op.f("pk_inbox_chat")),
    )
    op.create_table(
        "worker",
        sa.Column("id", sa.String(100), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("seen_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_worker")),
    )
    op.create_index(op.f("ix_worker_seen_at"), "worker", ["seen_at"])
    op.create_table(
        "auth_failure",
        sa.Column("id", BIG_ID, primary_key=True),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auth_failure")),
    )
    op.create_index("ix_auth_failure_key_at", "auth_failure", ["key", "at"])
    op.create_index("ix_outbox_chat", "outbox", ["channel", "chat_id", "status", "id"])


def downgrade() -> None:
    op.drop_index("ix_outbox_chat", table_name="outbox")
    op.drop_index("ix_auth_failure_key_at", table_name="auth_failure")
    op.drop_table("auth_failure")
    op.drop_index(op.f("ix_worker_seen_at"), table_name="worker")
    op.drop_table("worker")
    op.drop_table("inbox_chat")
    op.drop_index("ix_inbox_status_received", table_name="inbox")
    op.drop_index("ix_inbox_chat_status", table_name="inbox")
    op.drop_table("inbox")
