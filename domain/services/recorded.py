"""Votes from the meeting room and the doorstep (现场举手 / 代为录入 / 纸质票).

A chair or staff member records a raised hand for a member present without a phone
(the roll call), staff enter a vote after a home visit with a reason, and a file of
paper ballots is checked first (a dry run, kept until its confirm button) and applied
on confirm. Each is one vote like any other, through ``cast_within``: the same
checks, the same audit trail (with how it came, who recorded it and when), the same
live tally. The member is told privately, when the bot can reach them, and may change
the vote with a button until the ballot closes.

Which vote wins: the latest recorded one, except that a paper ballot never replaces a
vote given at a known moment (``domain.model.may_replace``). A secret ballot takes no
raised hands and no paper (both show the recorder who chose what); a vote entered at
a home visit, which the member entrusted to staff, it takes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from domain import errors
from domain.model import (
    MAX_REASON,
    Ballot,
    BallotKind,
    Council,
    Member,
    MemberStatus,
    Notice,
    NoticeKind,
    PaperUpload,
    UploadStatus,
    Vote,
    VoteSource,
    may_replace,
)
from domain.notices import queue
from domain.numbers import fold, read_id
from domain.ports import Lock, UnitOfWork
from domain.rules import Choice
from domain.services.ballots import VoteReceipt, VoteRequest, cast_within
from domain.services.council import parse_address
from domain.services.reading import require_council
from domain.services.targets import Target, resolve
from domain.sheets import Row

T = TypeVar("T")

PAGE = 8  # members per page of a roll call or an attendance list: one screen of buttons
MAX_ERRORS_SHOWN = 20  # rows in error a dry run lists; the rest are counted

_FOR = {"for", "yes", "y", "赞成", "同意", "支持", "√", "✓", "✔", "○"}
_AGAINST = {"against", "no", "n", "反对", "不同意", "不赞成", "×", "✗", "✘", "x"}
_ABSTAIN = {"abstain", "弃权", "-", "—"}
_OPTION_PREFIXES = ("选项", "方案", "option", "opt")
_HEADER_WORDS = {"地址", "住址", "成员", "姓名", "address", "member", "name", "房号"}


def read_choice(ballot: Ballot, word: str) -> str | None:
    """A choice as people write it on paper or in a command: 赞成/同意/√/for, 反对/×,
    弃权; for a choice among options its number (2, 选项2, option 2). None if unread."""
    text = fold(word).strip().lower().replace(" ", "")
    if text in _ABSTAIN:
        return Choice.ABSTAIN.value
    if ballot.kind is BallotKind.MOTION:
        if text in _FOR:
            return Choice.FOR.value
        if text in _AGAINST:
            return Choice.AGAINST.value
        return None
    for prefix in _OPTION_PREFIXES:
        text = text.removeprefix(prefix)
    keys = [o.key for o in ballot.options]
    if text in keys:
        return text
    number = read_id(text)
    if number is not None and 1 <= number <= len(keys):
        return keys[number - 1]
    return None


def _household(text: str) -> str:
    """The household an address names, as the roll writes it (3-2-301)."""
    address = parse_address(text)
    return "-".join(p for p in (address.building, address.unit, address.room) if p)


def _require_recordable(ballot: Ballot, source: VoteSource, now: datetime) -> None:
    ballot.require_open(now)
    if ballot.secret and source in (VoteSource.ROOM, VoteSource.PAPER):
        raise errors.InvalidInput(field=f"secret_{source.value}")


async def _ballot_kept_by(
    uow: UnitOfWork, ballot_id: int, user_id: int, lock: Lock = Lock.NONE
) -> tuple[Ballot, Council]:
    ballot = await uow.ballots.get(ballot_id, lock=lock)
    if ballot is None:
        raise errors.BallotNotFound()
    council = await require_council(uow, ballot.council_id)
    council.require_staff(user_id)
    return ballot, council


def _notice(
    council: Council, member: Member, ballot: Ballot, key: str, by: int, now: datetime
) -> Notice | None:
    """Tell the member privately (when they have an account) who recorded what."""
    if member.user_id is None:
        return None
    assert ballot.id is not None and council.id is not None
    return Notice(
        key=key,
        kind=NoticeKind.VOTE_RECORDED,
        council_id=council.id,
        chat_id=member.user_id,
        subject=ballot.id,
        created_at=now,
        private=True,
        params={
            "member": member.id,
            "role": "chair" if council.is_chair(by) else "staff",
            "language": member.language or "",
        },
    )


# --- the roll call ---------------------------------------------------------------------


@dataclass(frozen=True)
class RollCallLine:
    member: Member
    vote: Vote | None
    present: bool  # signed in at the council's open sign-in


@dataclass(frozen=True)
class RollCall:
    """One page of a ballot's roll call, for a chair or staff member in private: the
    members present first, then the rest of the roll, each with their current vote."""

    ballot: Ballot
    council: Council
    lines: tuple[RollCallLine, ...]
    page: int  # from 0
    pages: int
    present: int  # members signed in


def page_of(items: Sequence[T], page: int) -> tuple[Sequence[T], int, int]:
    """The ``page``-th slice of ``items`` (kept within range), the page, the page count."""
    pages = max(1, -(-len(items) // PAGE))
    page = min(max(page, 0), pages - 1)
    return items[page * PAGE : (page + 1) * PAGE], page, pages


async def _present(uow: UnitOfWork, council_id: int) -> set[int]:
    sign_in = await uow.sign_ins.open_of(council_id)
    return set(await uow.sign_ins.attendees(sign_in.meeting_id)) if sign_in else set()


async def roll_call(
    uow: UnitOfWork,
    *,
    user_id: int,
    now: datetime,
    ballot_id: int | None = None,
    council_id: int | None = None,
    page: int = 0,
) -> RollCall:
    """A page of the roll call of ``ballot_id`` (or of the council's newest open ballot)."""
    async with uow:
        if ballot_id is None:
            assert council_id is not None
            found = await uow.ballots.open(council_id)
            if not found:
                raise errors.BallotNotFound()
            ballot_id = found[0].id
            assert ballot_id is not None
        ballot, council = await _ballot_kept_by(uow, ballot_id, user_id)
        _require_recordable(ballot, VoteSource.ROOM, now)
        assert council.id is not None
        members = [m for m in await uow.members.list(council.id) if m.voting]
        present = await _present(uow, council.id)
        members.sort(key=lambda m: (m.id not in present, m.id))
        shown, page, pages = page_of(members, page)
        votes = await uow.votes.of_members(ballot_id, [m.id for m in shown if m.id])
        lines = tuple(RollCallLine(m, votes.get(m.id or 0), m.id in present) for m in shown)
        return RollCall(ballot, council, lines, page, pages, len(present & {m.id for m in members}))


@dataclass(frozen=True)
class RollCallMember:
    ballot: Ballot
    council: Council
    member: Member
    vote: Vote | None
    present: bool


async def roll_call_member(
    uow: UnitOfWork, *, ballot_id: int, member_id: int, user_id: int, now: datetime
) -> RollCallMember:
    """One member of the roll call, to record their raised hand."""
    async with uow:
        ballot, council = await _ballot_kept_by(uow, ballot_id, user_id)
        _require_recordable(ballot, VoteSource.ROOM, now)
        member = await _voter(uow, council, member_id)
        votes = await uow.votes.of_members(ballot_id, [member_id])
        assert council.id is not None
        present = member_id in await _present(uow, council.id)
        return RollCallMember(ballot, council, member, votes.get(member_id), present)


async def _voter(uow: UnitOfWork, council: Council, member_id: int) -> Member:
    member = await uow.members.get(member_id)
    if member is None or member.council_id != council.id:
        raise errors.NotMember(field="recorded")
    if member.status is not MemberStatus.ACTIVE:
        raise errors.NotMember(field="recorded")
    if not member.voting:
        raise errors.InvalidInput(field="recorded_participant", name=member.name)
    return member


async def recorded_for(
    uow: UnitOfWork, *, ballot_id: int, member_id: int
) -> tuple[Ballot, Vote | None]:
    """A ballot and the member's current vote on it, for the notice that tells them."""
    async with uow:
        ballot = await uow.ballots.get(ballot_id)
        if ballot is None:
            raise errors.BallotNotFound()
        votes = await uow.votes.of_members(ballot_id, [member_id])
        return ballot, votes.get(member_id)


# --- recording one vote -----------------------------------------------------------------


@dataclass(frozen=True)
class RecordedVote:
    receipt: VoteReceipt
    source: VoteSource
    told: bool  # the member can be told privately (has started the bot, never blocked it)


async def record_vote(
    uow: UnitOfWork,
    *,
    ballot_id: int,
    member_id: int,
    choice: str,
    user_id: int,
    source: VoteSource,
    now: datetime,
    reason: str | None = None,
    key: str | None = None,
) -> RecordedVote:
    """A raised hand in the room (``ROOM``) or a vote entered after a home visit
    (``ASSISTED``, with its reason), recorded by a chair or staff member for a member."""
    if source not in (VoteSource.ROOM, VoteSource.ASSISTED):
        raise ValueError(f"record_vote records room or assisted votes, not {source}")
    reason = " ".join((reason or "").split()) or None
    if source is VoteSource.ASSISTED and reason is None:
        raise errors.InvalidInput(field="assist_reason")
    if reason is not None and len(reason) > MAX_REASON:
        raise errors.TextTooLong(field="reason", limit=MAX_REASON, length=len(reason))
    async with uow:
        ballot, council = await _ballot_kept_by(uow, ballot_id, user_id)
        _require_recordable(ballot, source, now)
        member = await _voter(uow, council, member_id)
        request = VoteRequest(
            key,
            ballot_id,
            user_id,
            choice,
            member_id=member.id,
            source=source,
            recorded_by=user_id,
            reason=reason,
        )
        (result,), _keep = await cast_within(uow, [request], now=now)
        if isinstance(result, errors.DomainError):
            raise result
        notice = None
        if not result.repeated:
            notice = _notice(
                council,
                member,
                ballot,
                f"recorded:{ballot_id}:{member_id}:{key or now.isoformat()}",
                user_id,
                now,
            )
            if notice is not None:
                await queue(uow, notice)
        told = notice is not None and bool(await uow.contacts.reachable([notice.chat_id]))
        await uow.commit()
        return RecordedVote(result, source, told)


@dataclass(frozen=True)
class AssistTarget:
    ballot_id: int
    member_id: int
    choice: str


async def assist_target(
    uow: UnitOfWork, *, user_id: int, ballot_id: int | None, who: str, choice: str, now: datetime
) -> AssistTarget:
    """What ``/assist [ballot] <#member | address> <choice> <reason>`` names: the member
    (a number, or an address on a roll the user keeps), the ballot (given, or the only
    one open in the member's council) and the choice as written."""
    text = fold(who).strip()
    target = (
        Target(member_id=read_id(text[1:]))
        if text.startswith("#") and read_id(text[1:]) is not None
        else Target(household=_household(text))
    )
    async with uow:
        person = await resolve(uow, None, user_id, target)
        person.council.require_staff(user_id)
        if person.member is None:
            raise errors.NotMember(field="recorded")
        assert person.council.id is not None and person.member.id is not None
        if ballot_id is None:
            found = await uow.ballots.open(person.council.id)
            if not found:
                raise errors.BallotNotFound()
            if len(found) > 1:
                listed = ", ".join(f"{b.id} {b.question}" for b in found)
                raise errors.Ambiguous(field="ballot", choices=listed)
            ballot = found[0]
        else:
            named = await uow.ballots.get(ballot_id)
            if named is None or named.council_id != person.council.id:
                raise errors.BallotNotFound()
            ballot = named
        ballot.require_open(now)
        read = read_choice(ballot, choice)
        if read is None:
            raise errors.InvalidChoice(field="written", choice=choice[:40])
        assert ballot.id is not None
        return AssistTarget(ballot.id, person.member.id, read)


# --- paper ballots ------------------------------------------------------------------------


@dataclass(frozen=True)
class PaperCheck:
    """A file of paper ballots checked against a ballot: the dry run, waiting for its
    confirm button (``upload.id``)."""

    upload: PaperUpload
    ballot: Ballot
    council: Council

    @property
    def votes(self) -> list[dict[str, object]]:
        return _entries(self.upload.plan, "votes")

    @property
    def kept(self) -> list[dict[str, object]]:
        return _entries(self.upload.plan, "kept")

    @property
    def errors(self) -> list[dict[str, object]]:
        return _entries(self.upload.plan, "errors")

    @property
    def same(self) -> list[dict[str, object]]:
        """Rows whose member's current vote is already this choice: nothing to record."""
        return _entries(self.upload.plan, "same")


def _entries(plan: dict[str, object], part: str) -> list[dict[str, object]]:
    found = plan.get(part)
    return [e for e in found if isinstance(e, dict)] if isinstance(found, list) else []


async def paper_ballot(
    uow: UnitOfWork, *, user_id: int, ballot_id: int | None, now: datetime
) -> Ballot:
    """The ballot a paper file goes to: the one named, else the only open ballot of the
    councils the user keeps (as chair or staff)."""
    async with uow:
        if ballot_id is not None:
            ballot, _council = await _ballot_kept_by(uow, ballot_id, user_id)
        else:
            kept = await uow.councils.of_person(user_id)
            if not kept:  # a resident: the reason is who they are, not the ballots
                raise errors.NotStaff()
            found = [
                b
                for council in kept
                if council.id is not None
                for b in await uow.ballots.open(council.id)
            ]
            if not found:
                raise errors.BallotNotFound()
            if len(found) > 1:
                listed = ", ".join(f"{b.id} {b.question}" for b in found)
                raise errors.Ambiguous(field="paper_ballot", choices=listed)
            ballot = found[0]
        _require_recordable(ballot, VoteSource.PAPER, now)
        return ballot


async def check_paper(
    uow: UnitOfWork,
    *,
    ballot_id: int,
    user_id: int,
    file_name: str,
    digest: str,
    rows: Sequence[Row],
    now: datetime,
) -> PaperCheck:
    """Read a file of ``address or member, choice`` rows against the ballot and keep the
    plan for its confirm button. Nothing is voted yet; rows in error are listed with
    their numbers and why, and rows whose member already gave a vote of their own are
    listed as kept (a paper ballot never replaces it)."""
    async with uow:
        ballot, council = await _ballot_kept_by(uow, ballot_id, user_id)
        _require_recordable(ballot, VoteSource.PAPER, now)
        assert council.id is not None
        plan = _plan(ballot, await uow.members.list(council.id), rows)
        ids = [int(str(v["member_id"])) for v in _entries(plan, "votes")]
        current = await uow.votes.of_members(ballot_id, ids)
        votes, kept, same = [], [], []
        for entry in _entries(plan, "votes"):
            vote = current.get(int(str(entry["member_id"])))
            if vote is not None and vote.choice == entry["choice"]:
                same.append(entry)  # the same file again, say: nothing would change
            elif vote is not None and not may_replace(VoteSource.PAPER, vote.source):
                kept.append({**entry, "source": vote.source.value})
            else:
                votes.append(entry)
        plan = {**plan, "votes": votes, "kept": kept, "same": same}
        upload = await uow.paper_uploads.add(
            PaperUpload(
                ballot_id=ballot_id,
                council_id=council.id,
                user_id=user_id,
                file_name=file_name[:255],
                digest=digest,
                plan=plan,
                created_at=now,
            )
        )
        await uow.commit()
        return PaperCheck(upload, ballot, council)


def _plan(ballot: Ballot, roll: Sequence[Member], rows: Sequence[Row]) -> dict[str, object]:
    by_id = {m.id: m for m in roll}
    by_household: dict[str, list[Member]] = {}
    by_name: dict[str, list[Member]] = {}
    for entry in roll:
        by_household.setdefault(entry.household, []).append(entry)
        by_name.setdefault(entry.name, []).append(entry)
    votes: list[dict[str, object]] = []
    problems: list[dict[str, object]] = []
    seen: dict[int, int] = {}  # member id -> the row that named them
    for index, row in enumerate(rows):
        who, written = row.cell(0), row.cell(1)
        if index == 0 and fold(who).strip().lower() in _HEADER_WORDS:
            continue  # a header row
        member, reason, value = _row_member(who, by_id, by_household, by_name)
        choice = None
        if member is not None:
            assert member.id is not None
            choice = read_choice(ballot, written) if written else None
            if choice is None:
                reason, value = "choice", written
            elif member.id in seen:
                reason, value = "twice", str(seen[member.id])
        if member is None or choice is None or reason:
            problems.append({"row": row.number, "reason": reason, "value": value[:40]})
            continue
        assert member.id is not None
        seen[member.id] = row.number
        votes.append(
            {"row": row.number, "member_id": member.id, "name": member.name, "choice": choice}
        )
    return {"votes": votes, "errors": problems}


def _row_member(
    who: str,
    by_id: dict[int | None, Member],
    by_household: dict[str, list[Member]],
    by_name: dict[str, list[Member]],
) -> tuple[Member | None, str, str]:
    """The member a row names, or None with why (and what to quote)."""
    if not who:
        return None, "no_member", ""
    candidates = _members_named(who, by_id, by_household, by_name)
    if not candidates:
        return None, "unknown_member", who
    if len(candidates) > 1:
        return None, "several_members", who
    if not candidates[0].voting:
        return None, "participant", candidates[0].name
    return candidates[0], "", ""


def _members_named(
    who: str,
    by_id: dict[int | None, Member],
    by_household: dict[str, list[Member]],
    by_name: dict[str, list[Member]],
) -> list[Member]:
    """The roll's active members a cell names: ``#12`` (a member number), an address
    (3-2-301, 3栋2单元301) or a name."""
    text = fold(who).strip()
    if text.startswith("#"):
        number = read_id(text[1:])
        member = by_id.get(number) if number is not None else None
        return [member] if member is not None else []
    try:
        household = _household(text)
    except errors.DomainError:
        household = None
    if household is not None and household in by_household:
        return by_household[household]
    return by_name.get(" ".join(text.split()), [])


@dataclass(frozen=True)
class PaperApplied:
    upload: PaperUpload
    ballot: Ballot
    recorded: int  # votes written (new or changed)
    unchanged: int  # the same choice was already the member's vote
    kept: int  # the member's own vote stands (or came meanwhile)
    refused: int  # no longer on the roll, …


async def confirm_paper(
    uow: UnitOfWork, *, upload_id: int, user_id: int, now: datetime
) -> PaperApplied:
    """Apply a checked file: its votes, each as a vote like any other. The ballot is
    locked against other votes meanwhile, so a member's own vote that came since the
    dry run is seen and kept. A second press finds it applied and changes nothing."""
    async with uow:
        upload = await uow.paper_uploads.get(upload_id, lock=Lock.UPDATE)
        if upload is None:
            raise errors.StaleButton()
        ballot, council = await _ballot_kept_by(uow, upload.ballot_id, user_id, Lock.UPDATE)
        if upload.status is not UploadStatus.PENDING:
            raise errors.InvalidInput(field=f"paper_{upload.status.value}")
        _require_recordable(ballot, VoteSource.PAPER, now)
        entries = _entries(upload.plan, "votes")
        current = await uow.votes.of_members(
            upload.ballot_id, [int(str(e["member_id"])) for e in entries]
        )
        requests: list[VoteRequest] = []
        kept = 0
        for entry in entries:
            member_id = int(str(entry["member_id"]))
            vote = current.get(member_id)
            if vote is not None and not may_replace(VoteSource.PAPER, vote.source):
                kept += 1
                continue
            requests.append(
                VoteRequest(
                    None,
                    upload.ballot_id,
                    user_id,
                    str(entry["choice"]),
                    member_id=member_id,
                    source=VoteSource.PAPER,
                    recorded_by=user_id,
                    reason=upload.file_name[:MAX_REASON],
                )
            )
        results, _keep = await cast_within(uow, requests, now=now, lock=Lock.UPDATE)
        receipts = [r for r in results if isinstance(r, VoteReceipt)]
        changed = [r for r in receipts if not r.repeated]
        notices = []
        for receipt in changed:
            key = f"paper:{upload_id}:{receipt.member.id}"
            notice = _notice(council, receipt.member, ballot, key, user_id, now)
            if notice is not None:
                notices.append(notice)
        if notices:
            await queue(uow, *notices)
        upload.status = UploadStatus.APPLIED
        upload.decided_at = now
        await uow.paper_uploads.update(upload)
        await uow.commit()
        return PaperApplied(
            upload,
            ballot,
            recorded=len(changed),
            unchanged=len(receipts) - len(changed),
            kept=kept,
            refused=len(results) - len(receipts),
        )


async def cancel_paper(
    uow: UnitOfWork, *, upload_id: int, user_id: int, now: datetime
) -> PaperUpload:
    async with uow:
        upload = await uow.paper_uploads.get(upload_id, lock=Lock.UPDATE)
        if upload is None:
            raise errors.StaleButton()
        await _ballot_kept_by(uow, upload.ballot_id, user_id)
        if upload.status is not UploadStatus.PENDING:
            raise errors.InvalidInput(field=f"paper_{upload.status.value}")
        upload.status = UploadStatus.CANCELLED
        upload.decided_at = now
        await uow.paper_uploads.update(upload)
        await uow.commit()
        return upload
