"""votes from the meeting room and the doorstep: how each vote came and who recorded
it, meetings' sign-in and attendance, paper ballots waiting for their confirm button

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-18 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    # ADD COLUMN with a default on both databases: every vote so far was pressed in the
    # chat by the member, and no old table is rebuilt.
    for table in ("votes", "vote_events"):
        op.add_column(
            table,
            sa.Column("source", sa.String(length=16), server_default="chat", nullable=False),
        )
        op.add_column(table, sa.Column("recorded_by", sa.BigInteger(), nullable=True))
    op.add_column("vote_events", sa.Column("reason", sa.String(length=200), nullable=True))
    op.create_table(
        "sign_ins",
        sa.Column("meeting_id", ID, nullable=False),
        sa.Column("council_id", ID, nullable=False),
        sa.Column("opened_by", sa.BigInteger(), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("message_ref", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["meeting_id"],
            ["meetings.id"],
            name=op.f("fk_sign_ins_meeting_id_meetings"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["council_id"],
            ["councils.id"],
            name=op.f("fk_sign_ins_council_id_councils"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("meeting_id", name=op.f("pk_sign_ins")),
    )
    op.create_index("ix_sign_ins_council_id", "sign_ins", ["council_id"])
    op.create_table(
        "attendance",
        sa.Column("meeting_id", ID, nullable=False),
        sa.Column("member_id", ID, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("by_user", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["meeting_id"],
            ["sign_ins.meeting_id"],
            name=op.f("fk_attendance_meeting_id_sign_ins"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_attendance_member_id_members"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("meeting_id", "member_id", name=op.f("pk_attendance")),
    )
    op.create_table(
        "paper_uploads",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("ballot_id", ID, nullable=False),
        sa.Column("council_id", ID, nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("file_name", sa.String(length=255), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("plan", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["ballot_id"],
            ["ballots.id"],
            name=op.f("fk_paper_uploads_ballot_id_ballots"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["council_id"],
            ["councils.id"],
            name=op.f("fk_paper_uploads_council_id_councils"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_paper_uploads")),
    )
    op.create_index("ix_paper_uploads_ballot_id", "paper_uploads", ["ballot_id"])


def downgrade() -> None:
    # The older schema knows only votes pressed in the chat: recorded votes stay as votes
    # (they count), but how they came and who recorded them has no home there and goes.
    op.drop_index("ix_paper_uploads_ballot_id", table_name="paper_uploads")
    op.drop_table("paper_uploads")
    op.drop_table("attendance")
    op.drop_index("ix_sign_ins_council_id", table_name="sign_ins")
    op.drop_table("sign_ins")
    with op.batch_alter_table("vote_events") as batch:
        batch.drop_column("reason")
        batch.drop_column("recorded_by")
        batch.drop_column("source")
    with op.batch_alter_table("votes") as batch:
        batch.drop_column("recorded_by")
        batch.drop_column("source")
