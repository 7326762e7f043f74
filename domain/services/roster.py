"""Use cases of the roll file (名册导入/导出): check a file against the roll, confirm or
cancel the check, and the roll as a file again. See ``roster_file`` for the format and
what a file does to the roll, ``domain.roster`` for how a confirmed import is written.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from domain import errors, sheets
from domain.model import Council, Member, MemberStatus
from domain.ports import Lock, UnitOfWork, UnitOfWorkFactory
from domain.roster import ImportStatus, RosterImport
from domain.services.reading import require_council
from domain.services.roster_file import (
    Change,
    Op,
    Plan,
    RollFile,
    export_rows,
    fingerprint,
    plan,
    plan_from_json,
    plan_to_json,
    read_roll,
)

# Changes written per transaction: a 20,000-row roll in one transaction would hold
# SQLite's write lock (and so every other handler, the scheduler's heartbeat among
# them) for the whole of it.
CHUNK = 500
EVERY_STATUS = tuple(MemberStatus)


@dataclass(frozen=True)
class Checked:
    """A roll file checked against the roll: the diff, and the import waiting for its
    confirm button (None when the file changes nothing)."""

    council: Council
    plan: Plan
    import_id: int | None


@dataclass(frozen=True)
class Applied:
    council: Council
    plan: Plan
    before: bool  # it had been written by an earlier press


async def staffed_councils(uow: UnitOfWork, *, user_id: int) -> list[Council]:
    """The councils whose roll the user keeps (a chair or staff), by id; ``NotStaff``
    (``roster``) when there are none."""
    async with uow:
        councils = await uow.councils.of_person(user_id)
    if not councils:
        raise errors.NotStaff(field="roster")
    return councils


def read_file(data: bytes) -> RollFile:
    """A roll file's rows, read and checked on their own (no roll needed)."""
    return read_roll(sheets.read_table(data))


async def check_roster(
    uow: UnitOfWork,
    *,
    council_id: int,
    user_id: int,
    file_name: str,
    data: bytes,
    roll: RollFile,
    now: datetime,
) -> Checked:
    """The dry-run diff of a roll file (``data``, read as ``roll`` by ``read_file``
    beforehand: outside the transaction, which holds SQLite's write lock, and on a
    thread if the caller likes) against the council's roll. Nothing on the roll is
    written: the plan waits as a pending import for ``apply_roster`` (and replaces the
    user's earlier pending check of this council, which can no longer be confirmed)."""
    async with uow:
        council = await require_council(uow, council_id)
        council.require_staff(user_id)
        members = await uow.members.list(council_id, EVERY_STATUS)
        found = plan(roll, members)
        import_id: int | None = None
        if not found.empty:
            await uow.roster_imports.cancel_pending(council_id, user_id, now)
            added = await uow.roster_imports.add(
                RosterImport(
                    council_id=council_id,
                    user_id=user_id,
                    file_name=" ".join(file_name.split())[:255],
                    digest=hashlib.sha256(data).hexdigest(),
                    plan={**plan_to_json(found), "done": 0},
                    status=ImportStatus.PENDING,
                    created_at=now,
                )
            )
            import_id = added.id
        await uow.commit()
        return Checked(council, found, import_id)


async def apply_roster(
    uows: UnitOfWorkFactory,
    *,
    import_id: int,
    user_id: int,
    now: datetime,
    chunk: int = CHUNK,
    between: Callable[[], Awaitable[None]] | None = None,
) -> Applied:
    """Write a checked import, ``chunk`` changes per transaction (``between`` awaited
    after each, so others get the database). Each transaction locks the import, writes
    the next changes after ``done`` and raises ``done`` with them: a press in the middle
    of another's writing, or after a crash, goes on where it stopped, and a press after
    the last chunk finds it applied. Refused (nothing written) for someone other than
    who sent the file, for a cancelled import, and when the roll changed since the check
    (``roster_stale``: the diff shown would not be the diff written)."""
    checked: Plan | None = None  # read once: only its progress changes
    while True:
        async with uows() as uow:
            if checked is None:
                found = await uow.roster_imports.get(import_id, Lock.UPDATE)
                if found is None or found.user_id != user_id:
                    raise errors.StaleButton()
                council = await require_council(uow, found.council_id)
                council.require_staff(user_id)
                checked = plan_from_json(found.plan)
                status, done, first = found.status, found.done, True
            else:
                progress = await uow.roster_imports.progress(import_id)
                assert progress is not None  # an import is never deleted but with its council
                (status, done), first = progress, False
            if status is ImportStatus.APPLIED:
                return Applied(council, checked, before=first)
            if status is ImportStatus.CANCELLED:
                raise errors.InvalidInput(field="roster_cancelled")
            if done == 0:
                members = await uow.members.list(council.id or 0, EVERY_STATUS)
                if fingerprint(members) != checked.fingerprint:
                    raise errors.InvalidInput(field="roster_stale")
            part = checked.changes[done : done + chunk]
            await _write(uow, council.id or 0, part, now)
            done += len(part)
            finished = done >= len(checked.changes)
            await uow.roster_imports.set_progress(
                import_id,
                ImportStatus.APPLIED if finished else ImportStatus.APPLYING,
                done,
                now if finished else None,
            )
            await uow.commit()
            if finished:
                return Applied(council, checked, before=False)
        if between is not None:
            await between()


async def _write(
    uow: UnitOfWork, council_id: int, changes: tuple[Change, ...], now: datetime
) -> None:
    members = await uow.members.by_ids([c.member_id for c in changes if c.member_id is not None])
    added: list[Member] = []
    changed: list[Member] = []
    for change in changes:
        if change.op is Op.ADD:
            assert change.entry is not None
            member = Member(council_id, None, change.entry.name, "", "", "", joined_at=now)
            change.entry.put_on(member)
            added.append(member)
            continue
        assert change.member_id is not None
        found = members.get(change.member_id)
        if found is None or found.council_id != council_id:
            continue  # gone since the check (its council is only deleted whole)
        if change.op is Op.REMOVE:
            # Removed, never deleted: its votes and history stay, and so do its accounts.
            found.status = MemberStatus.REMOVED
        else:
            assert change.entry is not None
            change.entry.put_on(found)
        changed.append(found)
    await uow.members.update_many(changed)
    await uow.members.add_many(added)


async def cancel_roster(uow: UnitOfWork, *, import_id: int, user_id: int, now: datetime) -> Council:
    """Drop a checked import (pressing cancel twice cancels once). One being written
    cannot be: its confirm button finishes it."""
    async with uow:
        found = await uow.roster_imports.get(import_id, Lock.UPDATE)
        if found is None or found.user_id != user_id:
            raise errors.StaleButton()
        council = await require_council(uow, found.council_id)
        if found.status is ImportStatus.APPLIED:
            raise errors.InvalidInput(field="roster_applied")
        if found.status is ImportStatus.APPLYING:
            raise errors.InvalidInput(field="roster_applying")
        if found.status is ImportStatus.PENDING:
            found.status, found.decided_at = ImportStatus.CANCELLED, now
            await uow.roster_imports.update(found)
            await uow.commit()
        return council


@dataclass(frozen=True)
class Export:
    council: Council
    header: list[str]
    rows: list[list[sheets.Cell]]
    members: int

    def xlsx(self) -> bytes:
        """The workbook (a few hundred milliseconds for thousands of rows)."""
        return sheets.write_xlsx(self.header, self.rows, title=self.council.title)


async def export_roster(uow: UnitOfWork, *, council_id: int, user_id: int, english: bool) -> Export:
    """The roll in the import's columns (headers in English or Chinese): importing it
    again changes nothing. For chairs and staff only (``NotStaff``)."""
    async with uow:
        council = await require_council(uow, council_id)
        council.require_staff(user_id)
        members = await uow.members.list(council_id, (MemberStatus.ACTIVE,))
    header, rows = export_rows(members, english=english)
    return Export(council, header, rows, sum(1 for m in members if m.voting))
