"""a member's identity is its messenger accounts: member_accounts, Telegram's backfilled

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-16 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    # A new table only: no rebuild of an old one, so nothing cascades on SQLite.
    op.create_table(
        "member_accounts",
        sa.Column("member_id", ID, nullable=False),
        sa.Column("messenger", sa.String(length=16), nullable=False),
        sa.Column("council_id", ID, nullable=False),
        sa.Column("account_id", sa.String(length=128), nullable=False),
        sa.ForeignKeyConstraint(
            ["council_id"],
            ["councils.id"],
            name=op.f("fk_member_accounts_council_id_councils"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_member_accounts_member_id_members"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("member_id", "messenger", name=op.f("pk_member_accounts")),
        sa.UniqueConstraint(
            "council_id",
            "messenger",
            "account_id",
            name=op.f("uq_member_accounts_council_id_messenger_account_id"),
        ),
    )
    # Every member bound to a Telegram account has it as its first account row.
    # (council_id, user_id) is unique on members, so the rows cannot collide.
    op.execute(
        "INSERT INTO member_accounts (member_id, messenger, council_id, account_id)"
        " SELECT id, 'telegram', council_id, CAST(user_id AS VARCHAR(128))"
        " FROM members WHERE user_id IS NOT NULL"
    )


def downgrade() -> None:
    # members.user_id still holds every Telegram account; other messengers' go.
    op.drop_table("member_accounts")
