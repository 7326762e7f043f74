"""the durable update inbox, notices claimed by a process, indexes for per-member limits

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 19:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UTC_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "inbox",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("bot_id", sa.BigInteger(), nullable=False),
        sa.Column("update_id", sa.BigInteger(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("received_at", UTC_TIME, nullable=False),
        sa.Column("claimed_by", sa.BigInteger(), nullable=True),
        sa.Column("handled_at", UTC_TIME, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbox")),
        sa.UniqueConstraint("bot_id", "update_id", name=op.f("uq_inbox_bot_id_update_id")),
    )
    op.create_index("ix_inbox_handled_at_id", "inbox", ["handled_at", "id"])
    op.create_index("ix_inbox_received_at", "inbox", ["received_at"])
    # A plain ADD COLUMN on both databases: no table rebuild.
    op.add_column("notices", sa.Column("claimed_by", sa.BigInteger(), nullable=True))
    op.create_index("ix_proposals_author_id_created_at", "proposals", ["author_id", "created_at"])
    op.create_index(
        "ix_tasks_requester_member_id_created_at",
        "tasks",
        ["requester_member_id", "created_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_tasks_requester_member_id_created_at", table_name="tasks")
    op.drop_index("ix_proposals_author_id_created_at", table_name="proposals")
    with op.batch_alter_table("notices") as batch:
        batch.drop_column("claimed_by")
    op.drop_index("ix_inbox_received_at", table_name="inbox")
    op.drop_index("ix_inbox_handled_at_id", table_name="inbox")
    op.drop_table("inbox")
