"""The council's entities: who may vote, what is being decided, and how.

Entities are plain dataclasses with the behaviour that keeps them consistent
(a topic moves through its phases only forwards; a closed ballot takes no
votes). Persistence and messaging live outside; ``*_ref`` fields hold the
messenger's opaque message ids so a card can be edited later.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction

from domain import errors
from domain.rules import Choice, Outcome, Result, Rule, Voter

# Limits on what a member may type, so one message can always carry it.
MAX_TITLE = 120
MAX_DESCRIPTION = 1500
MAX_PROPOSAL = 1500
MAX_NAME = 64
MAX_PLACE = 120
MAX_AGENDA_ITEM = 200
MAX_AGENDA = 12  # items and topics together: one reminder must name them all
MAX_ADDRESS_PART = 64  # a building, unit or room, as the roll's columns hold it
MAX_MESSENGER = 16  # a messenger's name ("telegram", "wecom", "web")
MAX_ACCOUNT_ID = 128  # an account's id within its messenger
TELEGRAM = "telegram"
_MESSENGER = re.compile(r"[a-z][a-z0-9_]*")
_TELEGRAM_ID = re.compile(r"[1-9][0-9]*")

# Defaults a council may change: when to remind before a meeting, and how long
# before a ballot closes to nudge those who have not voted (minutes; 0: never).
DEFAULT_MEETING_REMINDERS = (24 * 60, 60)
DEFAULT_BALLOT_NUDGE = 2 * 60
MAX_REMINDERS = 4

# Volunteers' skills every council has; a council may add its own (园艺, 电脑, …).
COMMON_SKILLS = (
    "repair",  # 维修
    "health",  # 健康
    "haircut",  # 理发
    "mediation",  # 调解
    "legal",  # 法律
    "errands",  # 跑腿
    "mobility",  # 助残 / 助行
    "companionship",  # 陪伴
)
DEFAULT_OFFER_MINUTES = 30
DEFAULT_OFFER_ROUND = 3
MAX_SKILL = 20


class MemberStatus(StrEnum):
    PENDING = "pending"  # asked to join; a chair must approve
    ACTIVE = "active"
    REMOVED = "removed"


class Phase(StrEnum):
    COLLECTING = "collecting"  # 征集意见
    VOTING = "voting"  # 表决
    DECIDED = "decided"
    CANCELLED = "cancelled"


class BallotKind(StrEnum):
    MOTION = "motion"  # for / against / abstain
    OPTIONS = "options"  # a choice among shortlisted proposals


@dataclass
class Council:
    chat_id: int
    thread_id: int  # 0: the whole chat; else one forum topic
    title: str
    rule: Rule
    timezone: str
    language: str
    created_at: datetime
    require_approval: bool = False
    chairs: set[int] = field(default_factory=set)  # messenger user ids
    # 社工 / 网格员: keep the roll, record assisted votes, see reports (messenger user ids)
    staff: set[int] = field(default_factory=set)
    meeting_reminders: tuple[int, ...] = DEFAULT_MEETING_REMINDERS  # minutes before
    ballot_nudge: int = DEFAULT_BALLOT_NUDGE  # minutes before a deadline; 0: off
    skills: tuple[str, ...] = ()  # skills this council added to the common list
    offer_minutes: int = DEFAULT_OFFER_MINUTES  # how long a volunteer has to answer an offer
    offer_round: int = DEFAULT_OFFER_ROUND  # volunteers asked at once for a request
    self_join: bool = True  # residents may /join themselves; else staff add them
    id: int | None = None

    @property
    def all_skills(self) -> tuple[str, ...]:
        return (*COMMON_SKILLS, *(s for s in self.skills if s not in COMMON_SKILLS))

    def is_chair(self, user_id: int) -> bool:
        return user_id in self.chairs

    def require_chair(self, user_id: int) -> None:
        if not self.is_chair(user_id):
            raise errors.NotChair()

    def is_staff(self, user_id: int) -> bool:
        """Chairs and staff: who may keep the roll and see residents' personal data."""
        return user_id in self.chairs or user_id in self.staff

    def require_staff(self, user_id: int) -> None:
        if not self.is_staff(user_id):
            raise errors.NotStaff()


@dataclass(frozen=True, order=True)
class Account:
    """Who a member is on one messenger: its name and the account's id there, a string
    whatever the messenger (Telegram's user id 8001 is ``Account("telegram", "8001")``).
    ``Account("wecom", "8001")`` is another account: the id means something only
    together with its messenger."""

    messenger: str
    id: str

    def __post_init__(self) -> None:
        if len(self.messenger) > MAX_MESSENGER or not _MESSENGER.fullmatch(self.messenger):
            raise errors.InvalidInput(field="messenger", value=self.messenger[:40])
        if not self.id or len(self.id) > MAX_ACCOUNT_ID:
            raise errors.InvalidInput(field="account", value=self.id[:40])
        if self.messenger == TELEGRAM and not (
            _TELEGRAM_ID.fullmatch(self.id) and int(self.id) < 2**63
        ):
            raise errors.InvalidInput(field="account", value=self.id[:40])

    @classmethod
    def telegram(cls, user_id: int) -> Account:
        return cls(TELEGRAM, str(user_id))

    @property
    def telegram_id(self) -> int | None:
        """The Telegram user id, for a Telegram account; else None."""
        return int(self.id) if self.messenger == TELEGRAM else None


@dataclass(frozen=True, order=True)
class Flat:
    """专有部分: a flat a member owns or co-owns, with its registered area. Co-owners
    each hold the same ``household`` with the same area; the owners' rules count the flat
    once. A self-declared flat is unverified and not counted until staff verify it."""

    household: str
    area: Decimal
    verified: bool = False


@dataclass
class Member:
    council_id: int
    user_id: int | None  # None: a roster row not yet bound to an account
    name: str
    building: str
    unit: str
    room: str
    joined_at: datetime
    household: str = ""  # defaults to building-unit-room
    area: Decimal = Decimal(0)
    status: MemberStatus = MemberStatus.ACTIVE
    language: str | None = None
    id: int | None = None
    # Every messenger account of this member, at most one per messenger. ``user_id``
    # is the Telegram one (the Telegram front end knows members by it): a member made
    # with a ``user_id`` has its Telegram account here too. Accounts are linked with
    # ``MemberRepository.link_account``; ``update`` keeps them (and follows ``user_id``).
    accounts: tuple[Account, ...] = ()
    voting: bool = True  # False: a participant (列席), never on a ballot's base
    phone: str | None = None  # for staff only; never shown in a group
    flats: tuple[Flat, ...] = ()  # the flats this member owns, for the owners' rules

    def __post_init__(self) -> None:
        if not self.household:
            self.household = "-".join(p for p in (self.building, self.unit, self.room) if p)
        if self.user_id is not None and self.account(TELEGRAM) is None:
            self.accounts = tuple(sorted((*self.accounts, Account.telegram(self.user_id))))

    def account(self, messenger: str) -> Account | None:
        """This member's account on ``messenger``, if any."""
        return next((a for a in self.accounts if a.messenger == messenger), None)

    @property
    def address(self) -> str:
        return self.household

    def voter(self) -> Voter:
        """This member as the rule engine counts it: its household, and its verified
        flats (an unverified one does not count for the owners' rules)."""
        assert self.id is not None
        return Voter(
            str(self.id),
            self.household,
            flats=tuple((f.household, Fraction(f.area)) for f in self.flats if f.verified),
        )


@dataclass(frozen=True)
class Voters:
    """Who chose one option of an open ballot, as its message lists them: the first
    names (by member id) and how many there are in all."""

    names: tuple[str, ...]
    total: int


@dataclass
class Topic:
    council_id: int
    title: str
    description: str
    opened_by: int
    opened_at: datetime
    phase: Phase = Phase.COLLECTING
    deadline: datetime | None = None
    decided_at: datetime | None = None
    result: Result | None = None
    card_ref: int | None = None
    id: int | None = None

    def require_phase(self, *phases: Phase) -> None:
        if self.phase not in phases:
            raise errors.WrongPhase(topic=self.title, phase=self.phase.value)

    def start_voting(self) -> None:
        self.require_phase(Phase.COLLECTING)
        self.phase = Phase.VOTING

    def decide(self, result: Result, at: datetime) -> None:
        self.require_phase(Phase.VOTING)
        self.phase = Phase.DECIDED
        self.result = result
        self.decided_at = at

    def cancel(self, at: datetime) -> None:
        self.require_phase(Phase.COLLECTING, Phase.VOTING)
        self.phase = Phase.CANCELLED
        self.decided_at = at


@dataclass
class Proposal:
    topic_id: int
    author_id: int  # member id
    text: str
    created_at: datetime
    seconds: set[int] = field(default_factory=set)  # member ids
    id: int | None = None
    source_ref: int | None = None  # the member's message in the council's chat that made it
    message_ref: int | None = None  # the bot's message announcing it there

    def second(self, member_id: int) -> bool:
        """Record a second; returns False when this member had already seconded."""
        if member_id == self.author_id:
            raise errors.OwnProposal()
        if member_id in self.seconds:
            return False
        self.seconds.add(member_id)
        return True

    def require_editable(self, *, by: int, topic: Topic) -> None:
        """Only its author may change a proposal, while its topic still collects
        proposals and before anybody seconded it: a second supports the text as it
        was, and a ballot shows the text as it was when the vote opened."""
        if by != self.author_id:
            raise errors.NotEditable(field="not_author")
        if topic.phase is not Phase.COLLECTING:
            raise errors.NotEditable(field="phase", topic=topic.title, phase=topic.phase.value)
        if self.seconds:
            raise errors.NotEditable(field="seconded", count=len(self.seconds))

    def revise(self, text: str, *, by: int, topic: Topic) -> bool:
        """The author's new text (already checked for length); False when it is the same."""
        self.require_editable(by=by, topic=topic)
        if text == self.text:
            return False
        self.text = text
        return True


@dataclass(frozen=True)
class BallotOption:
    key: str  # short and stable: fits in button data
    label: str
    proposal_id: int | None = None


@dataclass
class Ballot:
    topic_id: int
    council_id: int
    kind: BallotKind
    question: str
    rule: Rule
    secret: bool
    opened_by: int
    opened_at: datetime
    options: tuple[BallotOption, ...] = ()
    deadline: datetime | None = None
    closed_at: datetime | None = None
    outcome: Outcome | None = None
    message_ref: int | None = None
    rendered_seq: int = 0  # last vote event shown on the ballot message
    id: int | None = None

    @property
    def is_open(self) -> bool:
        return self.closed_at is None

    def valid_choices(self) -> tuple[str, ...]:
        if self.kind is BallotKind.MOTION:
            return (Choice.FOR.value, Choice.AGAINST.value, Choice.ABSTAIN.value)
        return (*(o.key for o in self.options), Choice.ABSTAIN.value)

    def require_open(self, now: datetime | None = None) -> None:
        """Refuse once closed, or once the deadline has passed even if not yet closed."""
        if not self.is_open or (
            now is not None and self.deadline is not None and now >= self.deadline
        ):
            raise errors.BallotClosed(question=self.question)

    @property
    def cancelled(self) -> bool:
        return self.closed_at is not None and self.outcome is None

    def require_choice(self, choice: str) -> None:
        if choice not in self.valid_choices():
            raise errors.InvalidChoice(choice=choice)

    def option_keys(self) -> list[str] | None:
        return [o.key for o in self.options] if self.kind is BallotKind.OPTIONS else None

    def label_of(self, choice: str) -> str:
        for option in self.options:
            if option.key == choice:
                return option.label
        return choice


class VoteSource(StrEnum):
    """How a vote reached the ballot; the vote and its audit line keep it, with who
    recorded it (None: the member themselves) and when."""

    CHAT = "chat"  # the member pressed a button
    ROOM = "room"  # 现场举手: a raised hand a chair or staff recorded in the meeting room
    PAPER = "paper"  # 纸质票: a paper ballot in a file staff uploaded
    ASSISTED = "assisted"  # 代为录入: staff entered it after a home visit, with a reason
    WEB = "web"  # the member on the residents' page (a login key, or the Mini App)


MAX_REASON = 200  # an assisted vote's reason, a paper file's name, in the audit trail


def may_replace(new: VoteSource, old: VoteSource | None) -> bool:
    """Whether a vote from ``new`` takes the place of a current vote from ``old``.

    The latest recorded vote wins, except that a paper ballot never replaces a vote
    given at a known moment (pressed in the chat, a hand raised in the room, entered
    at a home visit): when the paper was filled in is unknown, so it may be older than
    that vote. Paper fills in members without a vote and corrects an earlier upload."""
    return old is None or new is not VoteSource.PAPER or old is VoteSource.PAPER


@dataclass(frozen=True)
class Vote:
    """A member's current choice on a ballot, how it came and who recorded it
    (``recorded_by`` None: the member). ``reason`` goes to the audit trail only."""

    ballot_id: int
    member_id: int
    choice: str
    cast_at: datetime
    source: VoteSource = VoteSource.CHAT
    recorded_by: int | None = None  # messenger user id of the chair or staff member
    reason: str | None = None


@dataclass(frozen=True)
class VoteEvent:
    """One line of the audit trail: every vote and every change is kept."""

    ballot_id: int
    member_id: int
    choice: str
    previous: str | None
    at: datetime
    seq: int = 0  # assigned by storage, increasing
    source: VoteSource = VoteSource.CHAT
    recorded_by: int | None = None
    reason: str | None = None


@dataclass(frozen=True)
class Resolution:
    """决议: the recorded decision of a closed ballot."""

    council_id: int
    topic_id: int
    ballot_id: int
    result: Result
    summary: str
    recorded_at: datetime
    winner: str | None = None
    id: int | None = None


@dataclass
class Draft:
    """A proposal being written in a private chat, kept until sent."""

    user_id: int
    topic_id: int
    text: str
    updated_at: datetime


class MeetingStatus(StrEnum):
    SCHEDULED = "scheduled"
    CANCELLED = "cancelled"


@dataclass
class Meeting:
    """议事会会议: a sitting at a time and place, with an agenda.

    ``version`` grows each time the meeting is moved, so that a reminder sent
    for the old time does not count as sent for the new one.
    """

    council_id: int
    starts_at: datetime
    place: str  # empty when online
    online: bool
    scheduled_by: int  # messenger user id
    changed_at: datetime  # scheduled, or last moved
    items: list[str] = field(default_factory=list)  # free agenda items
    topic_ids: list[int] = field(default_factory=list)  # open topics on the agenda
    status: MeetingStatus = MeetingStatus.SCHEDULED
    version: int = 1
    message_ref: int | None = None  # the agenda message in the council's chat
    id: int | None = None

    @property
    def is_scheduled(self) -> bool:
        return self.status is MeetingStatus.SCHEDULED

    def require_scheduled(self) -> None:
        if not self.is_scheduled:
            raise errors.MeetingCancelled()

    def toggle_topic(self, topic_id: int) -> bool:
        """Put a topic on the agenda or take it off; True when it is now on."""
        self.require_scheduled()
        if topic_id in self.topic_ids:
            self.topic_ids.remove(topic_id)
            return False
        if len(self.topic_ids) + len(self.items) >= MAX_AGENDA:
            raise errors.InvalidInput(field="agenda_full", limit=MAX_AGENDA)
        self.topic_ids.append(topic_id)
        return True

    def move(self, starts_at: datetime, now: datetime) -> None:
        self.require_scheduled()
        if starts_at <= now:
            raise errors.InvalidInput(field="meeting_time")
        self.starts_at = starts_at
        self.changed_at = now
        self.version += 1

    def cancel(self, now: datetime) -> None:
        self.require_scheduled()
        self.status = MeetingStatus.CANCELLED
        self.changed_at = now


@dataclass
class SignIn:
    """签到 of a meeting: opened by a chair, members check in (or a chair marks them)
    until it is closed. ``message_ref``: the sign-in card in the council's chat."""

    meeting_id: int
    council_id: int
    opened_by: int  # messenger user id
    opened_at: datetime
    closed_at: datetime | None = None
    message_ref: int | None = None

    @property
    def is_open(self) -> bool:
        return self.closed_at is None


@dataclass(frozen=True)
class Attendance:
    """A member present at a meeting: checked in themselves (``by_user`` None) or
    marked by a chair or staff member."""

    meeting_id: int
    member_id: int
    at: datetime
    by_user: int | None = None


class UploadStatus(StrEnum):
    PENDING = "pending"  # checked, waiting for the confirm button
    APPLIED = "applied"
    CANCELLED = "cancelled"


@dataclass
class PaperUpload:
    """纸质票: a file of paper ballots checked against a ballot and waiting for its
    confirm button; ``plan`` is the dry run (JSON-safe), applied again on confirm."""

    ballot_id: int
    council_id: int
    user_id: int  # who uploaded it
    file_name: str
    digest: str  # sha256 of the file
    plan: dict[str, object]
    created_at: datetime
    status: UploadStatus = UploadStatus.PENDING
    decided_at: datetime | None = None
    id: int | None = None


class NoticeKind(StrEnum):
    """What a queued message says; the front end words it when it sends it."""

    BALLOT_OPENED = "ballot_opened"  # a collection deadline put the topic to the vote
    BALLOT_OUTCOME = "ballot_outcome"  # a deadline closed the ballot
    BALLOT_NUDGE = "ballot_nudge"  # privately, to a member who has not voted
    NON_VOTERS = "non_voters"  # in the group: those who could not be told privately
    MEETING_REMINDER = "meeting_reminder"
    OFFER = "offer"  # privately, to a volunteer: a task with Accept / Decline
    OFFER_UNREACHABLE = "offer_unreachable"  # in the group: please start the bot
    TASK_ACCEPTED = "task_accepted"  # to the requester: who is coming
    TASK_EXHAUSTED = "task_exhausted"  # in the group: nobody could take it
    TASK_DONE = "task_done"  # to the requester: done, please confirm
    VOTE_RECORDED = "vote_recorded"  # privately: a chair or staff recorded your vote
    JOIN_PENDING = "join_pending"  # privately, to chairs and staff: approve or reject
    JOIN_DECIDED = "join_decided"  # to the applicant (in the group if unreachable)
    CHAIR_LEFT = "chair_left"  # in the group: a chair is no longer a group admin
    PROPOSAL_POSTED = "proposal_posted"  # in the group: a proposal made on the web page


class NoticeState(StrEnum):
    PENDING = "pending"
    SENDING = "sending"  # claimed by a sender; a crash here leaves it unknown
    SENT = "sent"
    UNREACHABLE = "unreachable"  # the recipient never started the bot, or blocked it
    FAILED = "failed"  # given up after repeated errors
    UNKNOWN = "unknown"  # the sender died mid-send: never resent, so never doubled


@dataclass
class Notice:
    """A message the council must get, queued in the transaction that decided it.

    The outbox: a state change and the notice announcing it commit together,
    and a sender delivers notices afterwards, so a crash in between loses
    nothing and a notice is never queued twice (``key`` is unique).
    """

    key: str
    kind: NoticeKind
    council_id: int
    chat_id: int  # the council's chat, or the recipient's user id for a private notice
    subject: int  # the ballot, topic or meeting it is about
    created_at: datetime
    thread_id: int = 0
    private: bool = False
    params: dict[str, object] = field(default_factory=dict)  # JSON-safe values
    state: NoticeState = NoticeState.PENDING
    attempts: int = 0
    not_before: datetime | None = None
    sent_at: datetime | None = None
    message_ref: int | None = None
    id: int | None = None


class Role(StrEnum):
    """What a role event grants or revokes. ``member``: a place on the roll (a join
    approved, rejected, or a member removed); ``voter`` and ``participant`` (列席) are
    the two kinds of member, one replacing the other."""

    CHAIR = "chair"
    STAFF = "staff"
    VOTER = "voter"
    PARTICIPANT = "participant"
    MEMBER = "member"


@dataclass(frozen=True)
class RoleEvent:
    """One line of the audit trail of roles: who got or lost which role, from whom
    (``by_user`` None: the bot, following the group's admins), when."""

    council_id: int
    role: Role
    granted: bool
    at: datetime
    user_id: int | None = None  # whose role, when they have an account
    member_id: int | None = None  # whose role, when they are on the roll
    by_user: int | None = None
    id: int | None = None
