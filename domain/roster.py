"""A roll file checked and waiting for its confirm button (``roster_imports``).

The check (``domain.services.roster``) stores the dry-run diff as the import's ``plan``;
confirming writes it in chunks, each chunk in a transaction of its own together with
``plan["done"]``, the number of the plan's changes written so far. So a restart between
check and confirm loses nothing, a crash in the middle of writing leaves the import
``applying`` with ``done`` telling how far it got, and the next press of confirm (or the
update handled again after a restart) writes the rest: every change is written once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any


class ImportStatus(StrEnum):
    PENDING = "pending"  # checked; nothing written
    APPLYING = "applying"  # confirmed; some chunks written (``plan["done"]``)
    APPLIED = "applied"
    CANCELLED = "cancelled"  # by its cancel button, or a newer file of the same person


@dataclass
class RosterImport:
    council_id: int
    user_id: int  # who sent the file; only they may confirm it
    file_name: str
    digest: str  # sha256 of the file
    plan: dict[str, Any]  # ``roster_file.plan_to_json``, and ``done``
    status: ImportStatus
    created_at: datetime
    decided_at: datetime | None = None  # confirmed (when the last chunk was written) or cancelled
    id: int | None = None

    @property
    def done(self) -> int:
        """How many of the plan's changes are written."""
        return int(self.plan.get("done", 0))
