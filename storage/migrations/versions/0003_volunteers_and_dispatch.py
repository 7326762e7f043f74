"""volunteers and dispatch

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 09:16:41
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UTC_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "teams",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("council_id", ID, nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("leader_member_ids", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["council_id"],
            ["councils.id"],
            name=op.f("fk_teams_council_id_councils"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_teams")),
        sa.UniqueConstraint("council_id", "name", name=op.f("uq_teams_council_id_name")),
    )
    op.create_table(
        "units",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("council_id", ID, nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("contact_user_ids", sa.JSON(), nullable=False),
        sa.Column("services", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["council_id"],
            ["councils.id"],
            name=op.f("fk_units_council_id_councils"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_units")),
        sa.UniqueConstraint("council_id", "name", name=op.f("uq_units_council_id_name")),
    )
    op.create_table(
        "tasks",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("council_id", ID, nullable=False),
        sa.Column("title", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("skill", sa.String(length=64), nullable=True),
        sa.Column("grid", sa.String(length=64), nullable=False),
        sa.Column("place", sa.String(length=255), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("topic_id", ID, nullable=True),
        sa.Column("requester_member_id", ID, nullable=True),
        sa.Column("unit_id", ID, nullable=True),
        sa.Column("team_id", ID, nullable=True),
        sa.Column("member_ids", sa.JSON(), nullable=False),
        sa.Column("due", UTC_TIME, nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("accepted_by", ID, nullable=True),
        sa.Column("accepted_at", UTC_TIME, nullable=True),
        sa.Column("closed_at", UTC_TIME, nullable=True),
        sa.Column("hours", sa.Numeric(precision=6, scale=2), nullable=False),
        sa.Column("photo", sa.String(length=255), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("confirmed", sa.Boolean(), nullable=False),
        sa.Column("card_ref", sa.BigInteger(), nullable=True),
        sa.Column("created_by", sa.BigInteger(), nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["accepted_by"], ["members.id"], name=op.f("fk_tasks_accepted_by_members")
        ),
        sa.ForeignKeyConstraint(
            ["council_id"],
            ["councils.id"],
            name=op.f("fk_tasks_council_id_councils"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["requester_member_id"],
            ["members.id"],
            name=op.f("fk_tasks_requester_member_id_members"),
        ),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"], name=op.f("fk_tasks_team_id_teams")),
        sa.ForeignKeyConstraint(
            ["topic_id"], ["topics.id"], name=op.f("fk_tasks_topic_id_topics"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["unit_id"], ["units.id"], name=op.f("fk_tasks_unit_id_units")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tasks")),
    )
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.create_index("ix_tasks_council_id_state", ["council_id", "state"], unique=False)
        batch_op.create_index(batch_op.f("ix_tasks_topic_id"), ["topic_id"], unique=False)

    op.create_table(
        "volunteers",
        sa.Column("council_id", ID, nullable=False),
        sa.Column("member_id", ID, nullable=False),
        sa.Column("skills", sa.JSON(), nullable=False),
        sa.Column("grid", sa.String(length=64), nullable=False),
        sa.Column("team_id", ID, nullable=True),
        sa.Column("available", sa.Boolean(), nullable=False),
        sa.Column("registered_at", UTC_TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["council_id"],
            ["councils.id"],
            name=op.f("fk_volunteers_council_id_councils"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_volunteers_member_id_members"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_volunteers_team_id_teams"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("council_id", "member_id", name=op.f("pk_volunteers")),
    )
    with op.batch_alter_table("volunteers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_volunteers_team_id"), ["team_id"], unique=False)

    op.create_table(
        "offers",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("task_id", ID, nullable=False),
        sa.Column("member_id", ID, nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("offered_at", UTC_TIME, nullable=False),
        sa.Column("expires_at", UTC_TIME, nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("answered_at", UTC_TIME, nullable=True),
        sa.Column("message_ref", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_offers_member_id_members"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["task_id"], ["tasks.id"], name=op.f("fk_offers_task_id_tasks"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_offers")),
        sa.UniqueConstraint("task_id", "member_id", name=op.f("uq_offers_task_id_member_id")),
    )
    with op.batch_alter_table("offers", schema=None) as batch_op:
        batch_op.create_index(
            "ix_offers_member_id_offered_at", ["member_id", "offered_at"], unique=False
        )
        batch_op.create_index("ix_offers_state_expires_at", ["state", "expires_at"], unique=False)

    op.create_table(
        "service_hours",
        sa.Column("task_id", ID, nullable=False),
        sa.Column("council_id", ID, nullable=False),
        sa.Column("member_id", ID, nullable=False),
        sa.Column("team_id", ID, nullable=True),
        sa.Column("hours", sa.Numeric(precision=6, scale=2), nullable=False),
        sa.Column("at", UTC_TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["council_id"],
            ["councils.id"],
            name=op.f("fk_service_hours_council_id_councils"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_service_hours_member_id_members"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["task_id"],
            ["tasks.id"],
            name=op.f("fk_service_hours_task_id_tasks"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["team_id"],
            ["teams.id"],
            name=op.f("fk_service_hours_team_id_teams"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("task_id", name=op.f("pk_service_hours")),
    )
    with op.batch_alter_table("service_hours", schema=None) as batch_op:
        batch_op.create_index(
            "ix_service_hours_council_id_member_id", ["council_id", "member_id"], unique=False
        )

    with op.batch_alter_table("councils", schema=None) as batch_op:
        # Existing councils: no skills of their own, 30 minutes to answer, 3 asked at once.
        batch_op.add_column(
            sa.Column("skills", sa.JSON(), nullable=False, server_default=sa.text("'[]'"))
        )
        batch_op.add_column(
            sa.Column("offer_minutes", sa.Integer(), nullable=False, server_default=sa.text("30"))
        )
        batch_op.add_column(
            sa.Column("offer_round", sa.Integer(), nullable=False, server_default=sa.text("3"))
        )


def downgrade() -> None:
    with op.batch_alter_table("councils", schema=None) as batch_op:
        batch_op.drop_column("offer_round")
        batch_op.drop_column("offer_minutes")
        batch_op.drop_column("skills")

    with op.batch_alter_table("service_hours", schema=None) as batch_op:
        batch_op.drop_index("ix_service_hours_council_id_member_id")

    op.drop_table("service_hours")
    with op.batch_alter_table("offers", schema=None) as batch_op:
        batch_op.drop_index("ix_offers_state_expires_at")
        batch_op.drop_index("ix_offers_member_id_offered_at")

    op.drop_table("offers")
    with op.batch_alter_table("volunteers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_volunteers_team_id"))

    op.drop_table("volunteers")
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tasks_topic_id"))
        batch_op.drop_index("ix_tasks_council_id_state")

    op.drop_table("tasks")
    op.drop_table("units")
    op.drop_table("teams")
