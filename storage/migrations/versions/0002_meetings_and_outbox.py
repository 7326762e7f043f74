"""meetings, the outbox of notices, contacts, reminder settings

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 09:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UTC_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("councils") as batch:
        # Existing councils get the defaults: 24 h and 1 h before a meeting, 2 h before a deadline.
        batch.add_column(
            sa.Column(
                "meeting_reminders",
                sa.JSON(),
                nullable=False,
                server_default=sa.text("'[1440, 60]'"),
            )
        )
        batch.add_column(
            sa.Column("ballot_nudge", sa.Integer(), nullable=False, server_default=sa.text("120"))
        )
    op.create_index("ix_ballots_closed_at_deadline", "ballots", ["closed_at", "deadline"])
    op.create_index("ix_topics_phase_deadline", "topics", ["phase", "deadline"])

    op.create_table(
        "meetings",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("council_id", ID, nullable=False),
        sa.Column("starts_at", UTC_TIME, nullable=False),
        sa.Column("place", sa.String(length=255), nullable=False),
        sa.Column("online", sa.Boolean(), nullable=False),
        sa.Column("scheduled_by", sa.BigInteger(), nullable=False),
        sa.Column("changed_at", UTC_TIME, nullable=False),
        sa.Column("items", sa.JSON(), nullable=False),
        sa.Column("topic_ids", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("message_ref", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["council_id"],
            ["councils.id"],
            name=op.f("fk_meetings_council_id_councils"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meetings")),
    )
    op.create_index("ix_meetings_council_id_starts_at", "meetings", ["council_id", "starts_at"])
    op.create_index("ix_meetings_status_starts_at", "meetings", ["status", "starts_at"])

    op.create_table(
        "notices",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("council_id", ID, nullable=False),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("thread_id", sa.BigInteger(), nullable=False),
        sa.Column("private", sa.Boolean(), nullable=False),
        sa.Column("subject", sa.BigInteger(), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("not_before", UTC_TIME, nullable=True),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.Column("claimed_at", UTC_TIME, nullable=True),
        sa.Column("sent_at", UTC_TIME, nullable=True),
        sa.Column("message_ref", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["council_id"],
            ["councils.id"],
            name=op.f("fk_notices_council_id_councils"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notices")),
        sa.UniqueConstraint("key", name=op.f("uq_notices_key")),
    )
    op.create_index("ix_notices_state_not_before", "notices", ["state", "not_before"])

    op.create_table(
        "contacts",
        sa.Column("user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("reachable", sa.Boolean(), nullable=False),
        sa.Column("updated_at", UTC_TIME, nullable=False),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_contacts")),
    )


def downgrade() -> None:
    op.drop_table("contacts")
    op.drop_index("ix_notices_state_not_before", table_name="notices")
    op.drop_table("notices")
    op.drop_index("ix_meetings_status_starts_at", table_name="meetings")
    op.drop_index("ix_meetings_council_id_starts_at", table_name="meetings")
    op.drop_table("meetings")
    op.drop_index("ix_topics_phase_deadline", table_name="topics")
    op.drop_index("ix_ballots_closed_at_deadline", table_name="ballots")
    with op.batch_alter_table("councils") as batch:
        batch.drop_column("ballot_nudge")
        batch.drop_column("meeting_reminders")
