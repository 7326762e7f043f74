"""the web: one-time sign-in links to the staff console, households' login keys,
signed-in browsers, and the audit trail of signing in

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-20 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
WHEN = sa.DateTime(timezone=True)


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column],
        [f"{target}.id"],
        name=op.f(f"fk_{table}_{column}_{target}"),
        ondelete="CASCADE",
    )


def upgrade() -> None:
    # New tables only: nothing old is rebuilt, so no row of another table is touched.
    op.create_table(
        "web_links",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("council_id", ID, nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("expires_at", WHEN, nullable=False),
        sa.Column("used_at", WHEN, nullable=True),
        _fk("web_links", "council_id", "councils"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_links")),
        sa.UniqueConstraint("digest", name=op.f("uq_web_links_digest")),
    )
    op.create_index("ix_web_links_user_id_created_at", "web_links", ["user_id", "created_at"])
    op.create_table(
        "login_keys",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("council_id", ID, nullable=False),
        sa.Column("member_id", ID, nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("created_by", sa.BigInteger(), nullable=True),
        sa.Column("revoked_at", WHEN, nullable=True),
        _fk("login_keys", "council_id", "councils"),
        _fk("login_keys", "member_id", "members"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_keys")),
        sa.UniqueConstraint("digest", name=op.f("uq_login_keys_digest")),
    )
    op.create_index(op.f("ix_login_keys_member_id"), "login_keys", ["member_id"])
    op.create_table(
        "web_sessions",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("council_id", ID, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=True),
        sa.Column("member_id", ID, nullable=True),
        sa.Column("via", sa.String(length=16), nullable=False),
        sa.Column("key_id", ID, nullable=True),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("expires_at", WHEN, nullable=False),
        sa.Column("revoked_at", WHEN, nullable=True),
        _fk("web_sessions", "council_id", "councils"),
        _fk("web_sessions", "member_id", "members"),
        _fk("web_sessions", "key_id", "login_keys"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_sessions")),
        sa.UniqueConstraint("digest", name=op.f("uq_web_sessions_digest")),
    )
    op.create_index(op.f("ix_web_sessions_member_id"), "web_sessions", ["member_id"])
    op.create_index(op.f("ix_web_sessions_key_id"), "web_sessions", ["key_id"])
    op.create_table(
        "web_access",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("at", WHEN, nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("council_id", ID, nullable=True),
        sa.Column("member_id", ID, nullable=True),
        sa.Column("user_id", sa.BigInteger(), nullable=True),
        sa.Column("client", sa.String(length=64), nullable=True),
        sa.Column("detail", sa.String(length=200), nullable=True),
        _fk("web_access", "council_id", "councils"),
        _fk("web_access", "member_id", "members"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_access")),
    )
    op.create_index("ix_web_access_client_at", "web_access", ["client", "at"])
    op.create_index("ix_web_access_council_id_at", "web_access", ["council_id", "at"])


def downgrade() -> None:
    for table in ("web_access", "web_sessions", "login_keys", "web_links"):
        op.drop_table(table)
