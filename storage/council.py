"""The councils and their rolls (members)."""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import cast, delete, func, literal, null, select, union_all, update

from domain import errors
from domain.model import TELEGRAM, Account, Council, Flat, Member, MemberStatus
from storage.base import CHUNK, Repository, required
from storage.orm import (
    BallotRow,
    CouncilChairRow,
    CouncilRow,
    CouncilStaffRow,
    MemberAccountRow,
    MemberFlatRow,
    MemberRow,
    ProposalRow,
    TopicRow,
)
from storage.rule_json import rule_from_json, rule_to_json


class SqlCouncilRepository(Repository):
    async def get(self, council_id: int) -> Council | None:
        row = await self.session.scalar(select(CouncilRow).where(CouncilRow.id == council_id))
        return None if row is None else await self._load(row)

    async def by_chat(self, chat_id: int, thread_id: int) -> Council | None:
        row = await self.session.scalar(
            select(CouncilRow).where(
                CouncilRow.chat_id == chat_id, CouncilRow.thread_id == thread_id
            )
        )
        return None if row is None else await self._load(row)

    async def add(self, council: Council) -> Council:
        council.id = await self.session.scalar(
            self.insert(CouncilRow).values(**self._values(council)).returning(CouncilRow.id)
        )
        await self._put_chairs(council)
        return council

    async def update(self, council: Council) -> None:
        council_id = required(council.id, "council")
        await self.session.execute(
            update(CouncilRow).where(CouncilRow.id == council_id).values(**self._values(council))
        )
        for table in (CouncilChairRow, CouncilStaffRow):
            await self.session.execute(delete(table).where(table.council_id == council_id))
        await self._put_chairs(council)

    async def many(self, council_ids: Sequence[int]) -> dict[int, Council]:
        if not council_ids:
            return {}
        rows = list(
            await self.session.scalars(select(CouncilRow).where(CouncilRow.id.in_(council_ids)))
        )
        chairs, staff = await self._people([row.id for row in rows])
        return {row.id: self._council(row, chairs[row.id], staff[row.id]) for row in rows}

    async def _people(
        self, council_ids: Sequence[int]
    ) -> tuple[dict[int, set[int]], dict[int, set[int]]]:
        """The councils' chairs and staff, in one statement (a council is read on every
        page view and command: each statement is a round trip)."""
        chairs: dict[int, set[int]] = {council_id: set() for council_id in council_ids}
        staff: dict[int, set[int]] = {council_id: set() for council_id in council_ids}
        chair_row, staff_row = CouncilChairRow, CouncilStaffRow
        both = union_all(
            select(literal(True).label("chair"), chair_row.council_id, chair_row.user_id)
            .where(chair_row.council_id.in_(council_ids)),
            select(literal(False), staff_row.council_id, staff_row.user_id)
            .where(staff_row.council_id.in_(council_ids)),
        )  # fmt: skip
        for chair, council_id, user_id in await self.session.execute(both):
            (chairs if chair else staff)[council_id].add(user_id)
        return chairs, staff

    async def in_chat(self, chat_id: int) -> list[Council]:
        ids = await self.session.scalars(
            select(CouncilRow.id).where(CouncilRow.chat_id == chat_id).order_by(CouncilRow.id)
        )
        found = await self.many(list(ids))
        return [found[i] for i in sorted(found)]

    async def of_person(self, user_id: int) -> list[Council]:
        ids = (
            select(CouncilChairRow.council_id)
            .where(CouncilChairRow.user_id == user_id)
            .union(select(CouncilStaffRow.council_id).where(CouncilStaffRow.user_id == user_id))
        )
        found = await self.many(list(await self.session.scalars(ids)))
        return [found[i] for i in sorted(found)]

    async def forget_messages(self, council_id: int) -> None:
        from storage.orm import MeetingRow, TaskRow

        for table, column in (
            (TopicRow, "card_ref"),
            (BallotRow, "message_ref"),
            (MeetingRow, "message_ref"),
            (TaskRow, "card_ref"),
        ):
            await self.session.execute(
                update(table).where(table.council_id == council_id).values({column: None}),
                execution_options={"synchronize_session": False},
            )
        topics = select(TopicRow.id).where(TopicRow.council_id == council_id)
        await self.session.execute(
            update(ProposalRow)
            .where(ProposalRow.topic_id.in_(topics))
            .values(source_ref=None, message_ref=None),
            execution_options={"synchronize_session": False},
        )

    async def _put_chairs(self, council: Council) -> None:
        for table, people in ((CouncilChairRow, council.chairs), (CouncilStaffRow, council.staff)):
            if people:
                await self.session.execute(
                    self.insert(table),
                    [{"council_id": council.id, "user_id": u} for u in sorted(people)],
                )

    @staticmethod
    def _values(council: Council) -> dict[str, Any]:
        return {
            "chat_id": council.chat_id,
            "thread_id": council.thread_id,
            "title": council.title,
            "rule": rule_to_json(council.rule),
            "timezone": council.timezone,
            "language": council.language,
            "require_approval": council.require_approval,
            "created_at": council.created_at,
            "meeting_reminders": list(council.meeting_reminders),
            "ballot_nudge": council.ballot_nudge,
            "skills": list(council.skills),
            "offer_minutes": council.offer_minutes,
            "offer_round": council.offer_round,
            "self_join": council.self_join,
        }

    async def from_row(self, row: CouncilRow) -> Council:
        """The council of a row another repository read in a join (its people read here)."""
        return await self._load(row)

    async def _load(self, row: CouncilRow) -> Council:
        chairs, staff = await self._people([row.id])
        return self._council(row, chairs[row.id], staff[row.id])

    @staticmethod
    def _council(row: CouncilRow, chairs: set[int], staff: set[int]) -> Council:
        return Council(
            id=row.id,
            chat_id=row.chat_id,
            thread_id=row.thread_id,
            title=row.title,
            rule=rule_from_json(row.rule),
            timezone=row.timezone,
            language=row.language,
            created_at=row.created_at,
            require_approval=row.require_approval,
            chairs=chairs,
            staff=staff,
            meeting_reminders=tuple(row.meeting_reminders),
            ballot_nudge=row.ballot_nudge,
            skills=tuple(row.skills),
            offer_minutes=row.offer_minutes,
            offer_round=row.offer_round,
            self_join=row.self_join,
        )


def _member(row: MemberRow, accounts: Sequence[Account] = (), flats: Sequence[Flat] = ()) -> Member:
    return Member(
        id=row.id,
        council_id=row.council_id,
        user_id=row.user_id,
        name=row.name,
        building=row.building,
        unit=row.unit,
        room=row.room,
        household=row.household,
        area=row.area,
        status=MemberStatus(row.status),
        language=row.language,
        joined_at=row.joined_at,
        accounts=tuple(sorted(accounts)),
        voting=row.voting,
        phone=row.phone,
        flats=tuple(sorted(flats)),
    )


def _member_values(member: Member) -> dict[str, Any]:
    return {
        "council_id": member.council_id,
        "user_id": member.user_id,
        "name": member.name,
        "building": member.building,
        "unit": member.unit,
        "room": member.room,
        "household": member.household,
        "area": member.area,
        "status": member.status.value,
        "language": member.language,
        "joined_at": member.joined_at,
        "voting": member.voting,
        "phone": member.phone,
    }


class SqlMemberRepository(Repository):
    async def get(self, member_id: int) -> Member | None:
        row = await self.session.scalar(select(MemberRow).where(MemberRow.id == member_id))
        return None if row is None else (await self._members([row]))[0]

    async def by_ids(self, member_ids: Sequence[int]) -> dict[int, Member]:
        if not member_ids:
            return {}
        rows = await self.session.scalars(
            select(MemberRow).where(MemberRow.id.in_(set(member_ids)))
        )
        return {m.id: m for m in await self._members(rows) if m.id is not None}

    async def by_user(self, council_id: int, user_id: int) -> Member | None:
        row = await self.session.scalar(
            select(MemberRow).where(
                MemberRow.council_id == council_id, MemberRow.user_id == user_id
            )
        )
        return None if row is None else (await self._members([row]))[0]

    async def by_users(self, council_id: int, user_ids: Sequence[int]) -> dict[int, Member]:
        if not user_ids:
            return {}
        rows = await self.session.scalars(
            select(MemberRow).where(
                MemberRow.council_id == council_id, MemberRow.user_id.in_(set(user_ids))
            )
        )
        return {m.user_id: m for m in await self._members(rows) if m.user_id is not None}

    async def by_account(self, council_id: int, account: Account) -> Member | None:
        row = await self.session.scalar(
            select(MemberRow)
            .join(MemberAccountRow, MemberAccountRow.member_id == MemberRow.id)
            .where(
                MemberAccountRow.council_id == council_id,
                MemberAccountRow.messenger == account.messenger,
                MemberAccountRow.account_id == account.id,
            )
        )
        return None if row is None else (await self._members([row]))[0]

    async def add(self, member: Member) -> Member:
        """Raises ``errors.AlreadyMember`` if the Telegram account is already on this
        roll, ``errors.AccountTaken`` if another of its accounts is (the unit of work
        then rolls the member back)."""
        statement = (
            self.insert(MemberRow)
            .values(**_member_values(member))
            .on_conflict_do_nothing(index_elements=["council_id", "user_id"])
            .returning(MemberRow.id)
        )
        member_id = await self.session.scalar(statement)
        if member_id is None:
            raise errors.AlreadyMember(name=member.name)
        member.id = member_id
        for account in member.accounts:
            await self._put_account(member_id, member.council_id, account)
        await self._put_flats(member)
        return member

    async def update(self, member: Member) -> None:
        member_id = required(member.id, "member")
        found = await self.session.scalar(
            update(MemberRow)
            .where(MemberRow.id == member_id)
            .values(**_member_values(member))
            .returning(MemberRow.id)
        )
        if found is None:  # an unknown member: nothing to write
            return
        await self.session.execute(
            delete(MemberFlatRow).where(MemberFlatRow.member_id == member_id)
        )
        await self._put_flats(member)
        # The Telegram account follows user_id; the other accounts stay as linked.
        await self._drop_account(member_id, TELEGRAM)
        if member.user_id is not None:
            account = Account.telegram(member.user_id)
            await self._put_account(member_id, member.council_id, account)

    async def add_many(self, members: Sequence[Member]) -> None:
        """A statement per ``CHUNK`` members (and one for their flats), ids read back in
        order; a member with accounts goes in as ``add`` puts it."""
        if any(m.accounts for m in members):
            for member in members:
                await self.add(member)
            return
        for start in range(0, len(members), CHUNK):
            chunk = members[start : start + CHUNK]
            ids = await self.session.scalars(
                self.insert(MemberRow).returning(MemberRow.id, sort_by_parameter_order=True),
                [_member_values(m) for m in chunk],
            )
            for member, member_id in zip(chunk, ids, strict=True):
                member.id = member_id
            await self._put_flats_of(chunk)

    async def update_many(self, members: Sequence[Member]) -> None:
        """``update`` in a few statements per ``CHUNK`` members."""
        for start in range(0, len(members), CHUNK):
            chunk = members[start : start + CHUNK]
            asked = [required(m.id, "member") for m in chunk]
            known = set(
                await self.session.scalars(select(MemberRow.id).where(MemberRow.id.in_(asked)))
            )
            found = [m for m in chunk if m.id in known]  # an unknown member: nothing
            if not found:
                continue
            ids = [m.id for m in found]
            await self.session.execute(
                update(MemberRow), [{"id": m.id, **_member_values(m)} for m in found]
            )
            await self.session.execute(
                delete(MemberFlatRow).where(MemberFlatRow.member_id.in_(ids))
            )
            await self._put_flats_of(found)
            await self.session.execute(
                delete(MemberAccountRow).where(
                    MemberAccountRow.member_id.in_(ids), MemberAccountRow.messenger == TELEGRAM
                )
            )
            accounts = [
                {
                    "member_id": m.id,
                    "council_id": m.council_id,
                    "messenger": TELEGRAM,
                    "account_id": str(m.user_id),
                }
                for m in found
                if m.user_id is not None
            ]
            if accounts:
                went_in = await self.session.scalars(
                    self.insert(MemberAccountRow)
                    .on_conflict_do_nothing()
                    .returning(MemberAccountRow.member_id),
                    accounts,
                )
                taken = {a["member_id"] for a in accounts} - set(went_in)
                if taken:
                    first = next(m for m in found if m.id in taken)
                    raise errors.AccountTaken(messenger=TELEGRAM, account=str(first.user_id))

    async def link_account(self, member_id: int, account: Account) -> bool:
        row = await self.session.scalar(select(MemberRow).where(MemberRow.id == member_id))
        if row is None:
            raise errors.NotFound(field="member", id=member_id)
        had = await self.session.scalar(
            select(MemberAccountRow.account_id).where(
                MemberAccountRow.member_id == member_id,
                MemberAccountRow.messenger == account.messenger,
            )
        )
        if had == account.id:
            return False
        owner = await self.session.scalar(
            select(MemberAccountRow.member_id).where(
                MemberAccountRow.council_id == row.council_id,
                MemberAccountRow.messenger == account.messenger,
                MemberAccountRow.account_id == account.id,
            )
        )
        if owner is not None:  # refused before anything is written
            raise errors.AccountTaken(messenger=account.messenger, account=account.id)
        await self._drop_account(member_id, account.messenger)
        await self._put_account(member_id, row.council_id, account)
        if account.telegram_id is not None:
            await self.session.execute(
                update(MemberRow)
                .where(MemberRow.id == member_id)
                .values(user_id=account.telegram_id)
            )
        return True

    async def list(
        self, council_id: int, statuses: Sequence[MemberStatus] = (MemberStatus.ACTIVE,)
    ) -> list[Member]:
        rows = await self.session.scalars(
            select(MemberRow)
            .where(
                MemberRow.council_id == council_id,
                MemberRow.status.in_([s.value for s in statuses]),
            )
            .order_by(MemberRow.id)
        )
        return await self._members(rows)

    async def of_flat(self, council_id: int, household: str) -> builtins.list[Member]:
        holders = select(MemberFlatRow.member_id).where(
            MemberFlatRow.council_id == council_id, MemberFlatRow.household == household
        )
        rows = await self.session.scalars(
            select(MemberRow).where(MemberRow.id.in_(holders)).order_by(MemberRow.id)
        )
        return await self._members(rows)

    async def roll_size(self, council_id: int) -> int:
        count = await self.session.scalar(
            select(func.count()).where(
                MemberRow.council_id == council_id,
                MemberRow.status == MemberStatus.ACTIVE.value,
                MemberRow.voting.is_(True),
            )
        )
        return int(count or 0)

    async def from_rows(self, rows: Iterable[MemberRow]) -> builtins.list[Member]:
        """The members of rows another repository read in a join."""
        return await self._members(rows)

    async def _members(self, rows: Iterable[MemberRow]) -> builtins.list[Member]:
        """The members of ``rows``, each with its accounts and flats (one query per
        chunk)."""
        rows = list(rows)
        accounts: dict[int, list[Account]] = {row.id: [] for row in rows}
        flats: dict[int, list[Flat]] = {row.id: [] for row in rows}
        ids = list(accounts)
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start : start + CHUNK]
            # One statement for both (flats first: their types name the columns).
            both = union_all(
                select(
                    MemberFlatRow.member_id,
                    MemberFlatRow.household,
                    MemberFlatRow.area,
                    MemberFlatRow.verified,
                    cast(null(), MemberAccountRow.account_id.type),
                ).where(MemberFlatRow.member_id.in_(chunk)),
                select(
                    MemberAccountRow.member_id,
                    MemberAccountRow.messenger,
                    cast(null(), MemberFlatRow.area.type),
                    cast(null(), MemberFlatRow.verified.type),
                    MemberAccountRow.account_id,
                ).where(MemberAccountRow.member_id.in_(chunk)),
            )
            for member_id, name, area, verified, account_id in await self.session.execute(both):
                if account_id is None:
                    flats[member_id].append(Flat(name, area, verified))
                else:
                    accounts[member_id].append(Account(name, account_id))
        return [_member(row, accounts[row.id], flats[row.id]) for row in rows]

    async def _put_flats(self, member: Member) -> None:
        if member.flats:
            await self.session.execute(
                self.insert(MemberFlatRow),
                [
                    {
                        "council_id": member.council_id,
                        "member_id": member.id,
                        "household": flat.household,
                        "area": flat.area,
                        "verified": flat.verified,
                    }
                    for flat in member.flats
                ],
            )

    async def _put_flats_of(self, members: Sequence[Member]) -> None:
        rows = [
            {
                "council_id": m.council_id,
                "member_id": m.id,
                "household": flat.household,
                "area": flat.area,
                "verified": flat.verified,
            }
            for m in members
            for flat in m.flats
        ]
        if rows:
            await self.session.execute(self.insert(MemberFlatRow), rows)

    async def _put_account(self, member_id: int, council_id: int, account: Account) -> None:
        """Refused with ``AccountTaken`` when a member of the council has it already:
        one statement guarded by the unique constraint, so two links race safely."""
        went_in = await self.insert_ignore(
            self.insert(MemberAccountRow)
            .values(
                member_id=member_id,
                council_id=council_id,
                messenger=account.messenger,
                account_id=account.id,
            )
            .on_conflict_do_nothing()
        )
        if not went_in:
            raise errors.AccountTaken(messenger=account.messenger, account=account.id)

    async def _drop_account(self, member_id: int, messenger: str) -> None:
        await self.session.execute(
            delete(MemberAccountRow).where(
                MemberAccountRow.member_id == member_id, MemberAccountRow.messenger == messenger
            )
        )
