"""initial

Revision ID: 0001
Revises:
Create Date: 2026-11-26 03:52:20.422584
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Surrogate keys: BIGINT, but INTEGER on SQLite (only INTEGER PRIMARY KEY autoincrements).
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
# Times are UTC; storage.orm.UTCDateTime converts on the Python side.
UTC_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "councils",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("thread_id", sa.BigInteger(), nullable=False),
        sa.Column("title", sa.String(length=255), nullable=False),
        sa.Column("rule", sa.JSON(), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=False),
        sa.Column("require_approval", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_councils")),
        sa.UniqueConstraint("chat_id", "thread_id", name=op.f("uq_councils_chat_id_thread_id")),
    )
    op.create_table(
        "processed_updates",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("seen_at", UTC_TIME, nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_processed_updates")),
    )
    op.create_index(
        op.f("ix_processed_updates_seen_at"), "processed_updates", ["seen_at"], unique=False
    )

    op.create_table(
        "council_chairs",
        sa.Column("council_id", ID, nullable=False),
        sa.Column("user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.ForeignKeyConstraint(
            ["council_id"],
            ["councils.id"],
            name=op.f("fk_council_chairs_council_id_councils"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("council_id", "user_id", name=op.f("pk_council_chairs")),
    )
    op.create_table(
        "members",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("council_id", ID, nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=True),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("building", sa.String(length=64), nullable=False),
        sa.Column("unit", sa.String(length=64), nullable=False),
        sa.Column("room", sa.String(length=64), nullable=False),
        sa.Column("household", sa.String(length=255), nullable=False),
        sa.Column("area", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=True),
        sa.Column("joined_at", UTC_TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["council_id"],
            ["councils.id"],
            name=op.f("fk_members_council_id_councils"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_members")),
        sa.UniqueConstraint("council_id", "user_id", name=op.f("uq_members_council_id_user_id")),
    )
    op.create_table(
        "topics",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("council_id", ID, nullable=False),
        sa.Column("title", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("opened_by", sa.BigInteger(), nullable=False),
        sa.Column("opened_at", UTC_TIME, nullable=False),
        sa.Column("phase", sa.String(length=16), nullable=False),
        sa.Column("deadline", UTC_TIME, nullable=True),
        sa.Column("decided_at", UTC_TIME, nullable=True),
        sa.Column("result", sa.String(length=16), nullable=True),
        sa.Column("card_ref", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["council_id"],
            ["councils.id"],
            name=op.f("fk_topics_council_id_councils"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_topics")),
    )
    op.create_index("ix_topics_council_id_phase", "topics", ["council_id", "phase"], unique=False)

    op.create_table(
        "ballots",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("topic_id", ID, nullable=False),
        sa.Column("council_id", ID, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("rule", sa.JSON(), nullable=False),
        sa.Column("secret", sa.Boolean(), nullable=False),
        sa.Column("opened_by", sa.BigInteger(), nullable=False),
        sa.Column("opened_at", UTC_TIME, nullable=False),
        sa.Column("deadline", UTC_TIME, nullable=True),
        sa.Column("closed_at", UTC_TIME, nullable=True),
        sa.Column("outcome", sa.JSON(), nullable=True),
        sa.Column("message_ref", sa.BigInteger(), nullable=True),
        sa.Column("rendered_seq", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["council_id"],
            ["councils.id"],
            name=op.f("fk_ballots_council_id_councils"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["topic_id"], ["topics.id"], name=op.f("fk_ballots_topic_id_topics"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ballots")),
    )
    op.create_index(
        "ix_ballots_council_id_closed_at", "ballots", ["council_id", "closed_at"], unique=False
    )
    op.create_index(op.f("ix_ballots_topic_id"), "ballots", ["topic_id"], unique=False)

    op.create_table(
        "drafts",
        sa.Column("user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("topic_id", ID, nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("updated_at", UTC_TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["topic_id"], ["topics.id"], name=op.f("fk_drafts_topic_id_topics"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_drafts")),
    )
    op.create_table(
        "proposals",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("topic_id", ID, nullable=False),
        sa.Column("author_id", ID, nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"], ["members.id"], name=op.f("fk_proposals_author_id_members")
        ),
        sa.ForeignKeyConstraint(
            ["topic_id"],
            ["topics.id"],
            name=op.f("fk_proposals_topic_id_topics"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_proposals")),
    )
    op.create_index(op.f("ix_proposals_topic_id"), "proposals", ["topic_id"], unique=False)

    op.create_table(
        "resolutions",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("council_id", ID, nullable=False),
        sa.Column("topic_id", ID, nullable=False),
        sa.Column("ballot_id", ID, nullable=False),
        sa.Column("result", sa.String(length=16), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("recorded_at", UTC_TIME, nullable=False),
        sa.Column("winner", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["ballot_id"],
            ["ballots.id"],
            name=op.f("fk_resolutions_ballot_id_ballots"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["council_id"],
            ["councils.id"],
            name=op.f("fk_resolutions_council_id_councils"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["topic_id"],
            ["topics.id"],
            name=op.f("fk_resolutions_topic_id_topics"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_resolutions")),
    )
    op.create_index(op.f("ix_resolutions_council_id"), "resolutions", ["council_id"], unique=False)
    op.create_index(op.f("ix_resolutions_topic_id"), "resolutions", ["topic_id"], unique=False)

    op.create_table(
        "seconds",
        sa.Column("proposal_id", ID, nullable=False),
        sa.Column("member_id", ID, nullable=False),
        sa.Column("at", UTC_TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_seconds_member_id_members")
        ),
        sa.ForeignKeyConstraint(
            ["proposal_id"],
            ["proposals.id"],
            name=op.f("fk_seconds_proposal_id_proposals"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("proposal_id", "member_id", name=op.f("pk_seconds")),
    )
    op.create_table(
        "vote_events",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("ballot_id", ID, nullable=False),
        sa.Column("member_id", ID, nullable=False),
        sa.Column("choice", sa.String(length=64), nullable=False),
        sa.Column("previous", sa.String(length=64), nullable=True),
        sa.Column("at", UTC_TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["ballot_id"],
            ["ballots.id"],
            name=op.f("fk_vote_events_ballot_id_ballots"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_vote_events_member_id_members")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vote_events")),
    )
    op.create_index(op.f("ix_vote_events_ballot_id"), "vote_events", ["ballot_id"], unique=False)

    op.create_table(
        "votes",
        sa.Column("ballot_id", ID, nullable=False),
        sa.Column("member_id", ID, nullable=False),
        sa.Column("choice", sa.String(length=64), nullable=False),
        sa.Column("cast_at", UTC_TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["ballot_id"],
            ["ballots.id"],
            name=op.f("fk_votes_ballot_id_ballots"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_votes_member_id_members")
        ),
        sa.PrimaryKeyConstraint("ballot_id", "member_id", name=op.f("pk_votes")),
    )


def downgrade() -> None:
    op.drop_table("votes")
    op.drop_index(op.f("ix_vote_events_ballot_id"), table_name="vote_events")

    op.drop_table("vote_events")
    op.drop_table("seconds")
    op.drop_index(op.f("ix_resolutions_topic_id"), table_name="resolutions")
    op.drop_index(op.f("ix_resolutions_council_id"), table_name="resolutions")

    op.drop_table("resolutions")
    op.drop_index(op.f("ix_proposals_topic_id"), table_name="proposals")

    op.drop_table("proposals")
    op.drop_table("drafts")
    op.drop_index(op.f("ix_ballots_topic_id"), table_name="ballots")
    op.drop_index("ix_ballots_council_id_closed_at", table_name="ballots")

    op.drop_table("ballots")
    op.drop_index("ix_topics_council_id_phase", table_name="topics")

    op.drop_table("topics")
    op.drop_table("members")
    op.drop_table("council_chairs")
    op.drop_index(op.f("ix_processed_updates_seen_at"), table_name="processed_updates")

    op.drop_table("processed_updates")
    op.drop_table("councils")
