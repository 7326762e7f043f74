"""proposals remember the member's message that made them and the bot's announcing it

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-09 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain ADD COLUMN on both databases: no table rebuild.
    op.add_column("proposals", sa.Column("source_ref", sa.BigInteger(), nullable=True))
    op.add_column("proposals", sa.Column("message_ref", sa.BigInteger(), nullable=True))
    op.create_index("ix_proposals_source_ref", "proposals", ["source_ref"])


def downgrade() -> None:
    op.drop_index("ix_proposals_source_ref", table_name="proposals")
    with op.batch_alter_table("proposals") as batch:
        batch.drop_column("message_ref")
        batch.drop_column("source_ref")
