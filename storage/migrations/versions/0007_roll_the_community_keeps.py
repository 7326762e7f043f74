"""the roll the community keeps: flats counted once, staff and the roles' audit trail,
participants, phones, roster imports and binding codes

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-17 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _fk(table: str, column: str, parent: str, cascade: bool = True) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column],
        [f"{parent}.id"],
        name=op.f(f"fk_{table}_{column}_{parent}"),
        ondelete="CASCADE" if cascade else None,
    )


# The owners' presets counted people; the law counts owners (a flat one owner, one buyer
# of several flats one). A council's default rule follows; a ballot keeps the rule it
# was opened with, as its record says.
_OWNERS_PRESETS = ("owners-ordinary", "owners-major")


def _recount_owners(old: str, new: str) -> None:
    if op.get_context().as_sql:
        # Offline SQL cannot read the rules it would rewrite: `yishi migrate` does it online.
        return
    councils = sa.table("councils", sa.column("id", ID), sa.column("rule", sa.JSON()))
    connection = op.get_bind()
    for council_id, rule in connection.execute(sa.select(councils.c.id, councils.c.rule)):
        if not isinstance(rule, dict) or rule.get("name") not in _OWNERS_PRESETS:
            continue
        changed = {
            **rule,
            **{
                part: [
                    {**c, "quantity": new} if c.get("quantity") == old else c
                    for c in rule.get(part, [])
                ]
                for part in ("quorum", "passing")
            },
        }
        if changed != rule:
            connection.execute(
                councils.update().where(councils.c.id == council_id).values(rule=changed)
            )


def upgrade() -> None:
    # ADD COLUMN with a default, and new tables: no rebuild of an old table.
    op.add_column(
        "councils", sa.Column("self_join", sa.Boolean(), server_default=sa.true(), nullable=False)
    )
    op.add_column(
        "members", sa.Column("voting", sa.Boolean(), server_default=sa.true(), nullable=False)
    )
    op.add_column("members", sa.Column("phone", sa.String(length=32), nullable=True))
    op.create_table(
        "council_staff",
        sa.Column("council_id", ID, nullable=False),
        sa.Column("user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        _fk("council_staff", "council_id", "councils"),
        sa.PrimaryKeyConstraint("council_id", "user_id", name=op.f("pk_council_staff")),
    )
    op.create_table(
        "role_events",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("council_id", ID, nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=True),
        sa.Column("member_id", ID, nullable=True),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("granted", sa.Boolean(), nullable=False),
        sa.Column("by_user", sa.BigInteger(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        _fk("role_events", "council_id", "councils"),
        _fk("role_events", "member_id", "members", cascade=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_role_events")),
    )
    op.create_index("ix_role_events_council_id_at", "role_events", ["council_id", "at"])
    op.create_table(
        "member_flats",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("council_id", ID, nullable=False),
        sa.Column("member_id", ID, nullable=False),
        sa.Column("household", sa.String(length=255), nullable=False),
        sa.Column("area", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("verified", sa.Boolean(), nullable=False),
        _fk("member_flats", "council_id", "councils"),
        _fk("member_flats", "member_id", "members"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_member_flats")),
        sa.UniqueConstraint(
            "member_id", "household", name=op.f("uq_member_flats_member_id_household")
        ),
    )
    op.create_index(
        "ix_member_flats_council_id_household", "member_flats", ["council_id", "household"]
    )
    # Until now every member stood for its household with the area it declared, and the
    # owners' rules counted it so: each becomes a verified flat, and a household whose
    # members declared it twice is now counted once (the largest area, as the law's
    # registered area is one figure). Staff can correct areas afterwards.
    op.execute(
        "INSERT INTO member_flats (council_id, member_id, household, area, verified)"
        " SELECT council_id, id, household, area, TRUE FROM members"
    )
    op.create_table(
        "roster_imports",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("council_id", ID, nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("file_name", sa.String(length=255), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("plan", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        _fk("roster_imports", "council_id", "councils"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_roster_imports")),
    )
    op.create_table(
        "binding_codes",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("council_id", ID, nullable=False),
        sa.Column("member_id", ID, nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("used_by", sa.BigInteger(), nullable=True),
        _fk("binding_codes", "council_id", "councils"),
        _fk("binding_codes", "member_id", "members"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_binding_codes")),
        sa.UniqueConstraint("digest", name=op.f("uq_binding_codes_digest")),
    )
    op.create_index("ix_binding_codes_member_id", "binding_codes", ["member_id"])
    op.create_table(
        "binding_attempts",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_binding_attempts")),
    )
    op.create_index("ix_binding_attempts_user_id_at", "binding_attempts", ["user_id", "at"])
    _recount_owners("headcount", "owners")


def downgrade() -> None:
    _recount_owners("owners", "headcount")
    # The flats' areas fold back into members.area where a member has its own household's
    # flat; staff, roles' history, imports and codes have no older home and go.
    op.drop_index("ix_binding_attempts_user_id_at", table_name="binding_attempts")
    op.drop_table("binding_attempts")
    op.drop_index("ix_binding_codes_member_id", table_name="binding_codes")
    op.drop_table("binding_codes")
    op.drop_table("roster_imports")
    op.execute(
        "UPDATE members SET area = (SELECT f.area FROM member_flats f"
        " WHERE f.member_id = members.id AND f.household = members.household)"
        " WHERE EXISTS (SELECT 1 FROM member_flats f"
        " WHERE f.member_id = members.id AND f.household = members.household)"
    )
    op.drop_index("ix_member_flats_council_id_household", table_name="member_flats")
    op.drop_table("member_flats")
    op.drop_index("ix_role_events_council_id_at", table_name="role_events")
    op.drop_table("role_events")
    op.drop_table("council_staff")
    with op.batch_alter_table("members") as batch:
        batch.drop_column("phone")
        batch.drop_column("voting")
    with op.batch_alter_table("councils") as batch:
        batch.drop_column("self_join")
