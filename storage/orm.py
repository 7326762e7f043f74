"""Tables, as SQLAlchemy 2 declarative models.

Rows are a storage detail: repositories translate them to and from the domain's
dataclasses explicitly. Enumerations are stored as their string values, rules
and outcomes as JSON, times as timezone-aware UTC (see :class:`UTCDateTime`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in and out.

    PostgreSQL keeps ``timestamptz``; SQLite has no time zones, so values are
    stored as naive UTC and made aware again on load. Naive values are refused
    on the way in: a naive time is a bug upstream, not something to guess.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: pass a timezone-aware time")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# Surrogate keys: 64-bit on PostgreSQL; SQLite autoincrements only INTEGER PRIMARY KEY.
IdType = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: dict[Any, Any] = {  # noqa: RUF012
        datetime: UTCDateTime(),
        Decimal: Numeric(12, 2),
    }


def _id() -> Mapped[int]:
    return mapped_column(IdType, primary_key=True, autoincrement=True)


class CouncilRow(Base):
    __tablename__ = "councils"
    __table_args__ = (UniqueConstraint("chat_id", "thread_id"),)

    id: Mapped[int] = _id()
    chat_id: Mapped[int] = mapped_column(BigInteger)
    thread_id: Mapped[int] = mapped_column(BigInteger, default=0)
    title: Mapped[str] = mapped_column(String(255))
    rule: Mapped[dict[str, Any]] = mapped_column(JSON)
    timezone: Mapped[str] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(16))
    require_approval: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]
    meeting_reminders: Mapped[list[int]] = mapped_column(JSON)  # minutes before a meeting
    ballot_nudge: Mapped[int] = mapped_column(Integer)  # minutes before a deadline; 0: off
    skills: Mapped[list[str]] = mapped_column(JSON)  # added to the common list
    offer_minutes: Mapped[int] = mapped_column(Integer)
    offer_round: Mapped[int] = mapped_column(Integer)
    # Residents may put themselves on the roll with /join (else only staff add them).
    self_join: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())


class CouncilChairRow(Base):
    __tablename__ = "council_chairs"

    council_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("councils.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)


class CouncilStaffRow(Base):
    """社工 / 网格员 of a council, by messenger user id (as ``council_chairs``)."""

    __tablename__ = "council_staff"

    council_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("councils.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)


class RoleEventRow(Base):
    """The audit trail of roles: every grant and revocation of chair, staff, voter or
    participant, by whom (None: the bot, following the group's admins) and when."""

    __tablename__ = "role_events"
    __table_args__ = (Index("ix_role_events_council_id_at", "council_id", "at"),)

    id: Mapped[int] = _id()
    council_id: Mapped[int] = mapped_column(IdType, ForeignKey("councils.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(BigInteger)  # whose role, when an account
    member_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("members.id"))
    role: Mapped[str] = mapped_column(String(16))
    granted: Mapped[bool] = mapped_column(Boolean)
    by_user: Mapped[int | None] = mapped_column(BigInteger)
    at: Mapped[datetime]


class MemberRow(Base):
    __tablename__ = "members"
    # Several roster rows may have no account yet: NULLs never collide in a
    # unique constraint, on SQLite and PostgreSQL alike.
    __table_args__ = (UniqueConstraint("council_id", "user_id"),)

    id: Mapped[int] = _id()
    # (council_id, user_id) is indexed by the unique constraint.
    council_id: Mapped[int] = mapped_column(IdType, ForeignKey("councils.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(BigInteger)
    name: Mapped[str] = mapped_column(String(255))
    building: Mapped[str] = mapped_column(String(64))
    unit: Mapped[str] = mapped_column(String(64))
    room: Mapped[str] = mapped_column(String(64))
    household: Mapped[str] = mapped_column(String(255))
    area: Mapped[Decimal] = mapped_column(Numeric(12, 2), default=Decimal(0))
    status: Mapped[str] = mapped_column(String(16))
    language: Mapped[str | None] = mapped_column(String(16))
    joined_at: Mapped[datetime]
    # False: a participant (列席, a member unit's contact), never on a ballot's base.
    voting: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    phone: Mapped[str | None] = mapped_column(String(32))  # staff only; never in a group


class MemberFlatRow(Base):
    """A flat (专有部分) a member owns or co-owns, with its registered area. Co-owners
    each have a row for the same ``household``; the owners' rules count the flat once.
    A self-declared flat is unverified and not counted until staff verify it."""

    __tablename__ = "member_flats"
    __table_args__ = (
        UniqueConstraint("member_id", "household"),
        Index("ix_member_flats_council_id_household", "council_id", "household"),
    )

    id: Mapped[int] = _id()
    council_id: Mapped[int] = mapped_column(IdType, ForeignKey("councils.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column(IdType, ForeignKey("members.id", ondelete="CASCADE"))
    household: Mapped[str] = mapped_column(String(255))
    area: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    verified: Mapped[bool] = mapped_column(Boolean)


class RosterImportRow(Base):
    """An uploaded roll file checked but not yet written: its plan (the dry-run diff)
    waits here for the confirm button, so a restart between check and confirm loses
    nothing and a second press applies it once."""

    __tablename__ = "roster_imports"

    id: Mapped[int] = _id()
    council_id: Mapped[int] = mapped_column(IdType, ForeignKey("councils.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(BigInteger)  # who uploaded it
    file_name: Mapped[str] = mapped_column(String(255))
    digest: Mapped[str] = mapped_column(String(64))  # sha256 of the file
    plan: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))  # pending, applied, cancelled
    created_at: Mapped[datetime]
    decided_at: Mapped[datetime | None]


class BindingCodeRow(Base):
    """绑定码: a one-time code that ties an account to a roll entry. Only its sha256 is
    kept, so a copy of the database does not hand out the codes."""

    __tablename__ = "binding_codes"

    id: Mapped[int] = _id()
    council_id: Mapped[int] = mapped_column(IdType, ForeignKey("councils.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("members.id", ondelete="CASCADE"), index=True
    )
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    used_by: Mapped[int | None] = mapped_column(BigInteger)


class BindingAttemptRow(Base):
    """Every code typed or scanned, so guessing is rate-limited per account."""

    __tablename__ = "binding_attempts"
    __table_args__ = (Index("ix_binding_attempts_user_id_at", "user_id", "at"),)

    id: Mapped[int] = _id()
    user_id: Mapped[int] = mapped_column(BigInteger)
    at: Mapped[datetime]
    ok: Mapped[bool] = mapped_column(Boolean)


class MemberAccountRow(Base):
    """A member's account on one messenger (``account_id`` as that messenger gives it,
    a string): at most one per messenger per member, and an account on at most one
    member of a council. ``council_id`` is the member's, kept here so the second rule
    is a unique constraint. A member's Telegram account mirrors ``members.user_id``."""

    __tablename__ = "member_accounts"
    __table_args__ = (UniqueConstraint("council_id", "messenger", "account_id"),)

    member_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("members.id", ondelete="CASCADE"), primary_key=True
    )
    messenger: Mapped[str] = mapped_column(String(16), primary_key=True)
    council_id: Mapped[int] = mapped_column(IdType, ForeignKey("councils.id", ondelete="CASCADE"))
    account_id: Mapped[str] = mapped_column(String(128))


class TopicRow(Base):
    __tablename__ = "topics"
    __table_args__ = (
        Index("ix_topics_council_id_phase", "council_id", "phase"),
        Index("ix_topics_phase_deadline", "phase", "deadline"),
    )

    id: Mapped[int] = _id()
    council_id: Mapped[int] = mapped_column(IdType, ForeignKey("councils.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text)
    opened_by: Mapped[int] = mapped_column(BigInteger)
    opened_at: Mapped[datetime]
    phase: Mapped[str] = mapped_column(String(16))
    deadline: Mapped[datetime | None]
    decided_at: Mapped[datetime | None]
    result: Mapped[str | None] = mapped_column(String(16))
    card_ref: Mapped[int | None] = mapped_column(BigInteger)


class ProposalRow(Base):
    __tablename__ = "proposals"
    # A member's proposals of the last hour are counted against their limit; an
    # edited message is looked up by its id.
    __table_args__ = (
        Index("ix_proposals_author_id_created_at", "author_id", "created_at"),
        Index("ix_proposals_source_ref", "source_ref"),
    )

    id: Mapped[int] = _id()
    topic_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("topics.id", ondelete="CASCADE"), index=True
    )
    author_id: Mapped[int] = mapped_column(IdType, ForeignKey("members.id"))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    source_ref: Mapped[int | None] = mapped_column(BigInteger)
    message_ref: Mapped[int | None] = mapped_column(BigInteger)


class SecondRow(Base):
    __tablename__ = "seconds"

    proposal_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("proposals.id", ondelete="CASCADE"), primary_key=True
    )
    member_id: Mapped[int] = mapped_column(IdType, ForeignKey("members.id"), primary_key=True)
    at: Mapped[datetime]


class BallotRow(Base):
    __tablename__ = "ballots"
    __table_args__ = (
        Index("ix_ballots_council_id_closed_at", "council_id", "closed_at"),
        Index("ix_ballots_closed_at_deadline", "closed_at", "deadline"),
    )

    id: Mapped[int] = _id()
    topic_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("topics.id", ondelete="CASCADE"), index=True
    )
    council_id: Mapped[int] = mapped_column(IdType, ForeignKey("councils.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    question: Mapped[str] = mapped_column(Text)
    options: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    rule: Mapped[dict[str, Any]] = mapped_column(JSON)
    secret: Mapped[bool] = mapped_column(Boolean)
    opened_by: Mapped[int] = mapped_column(BigInteger)
    opened_at: Mapped[datetime]
    deadline: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    outcome: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    message_ref: Mapped[int | None] = mapped_column(BigInteger)
    rendered_seq: Mapped[int] = mapped_column(BigInteger, default=0)


class VoteRow(Base):
    """A member's current choice: the primary key is what makes a press count once."""

    __tablename__ = "votes"

    ballot_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("ballots.id", ondelete="CASCADE"), primary_key=True
    )
    member_id: Mapped[int] = mapped_column(IdType, ForeignKey("members.id"), primary_key=True)
    choice: Mapped[str] = mapped_column(String(64))
    cast_at: Mapped[datetime]
    # How it came (chat, room, paper, assisted) and who recorded it (None: the member).
    source: Mapped[str] = mapped_column(String(16), default="chat", server_default="chat")
    recorded_by: Mapped[int | None] = mapped_column(BigInteger)


class VoteEventRow(Base):
    """The audit trail: every vote and change, never updated or deleted."""

    __tablename__ = "vote_events"

    id: Mapped[int] = _id()
    ballot_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("ballots.id", ondelete="CASCADE"), index=True
    )
    member_id: Mapped[int] = mapped_column(IdType, ForeignKey("members.id"))
    choice: Mapped[str] = mapped_column(String(64))
    previous: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[datetime]
    source: Mapped[str] = mapped_column(String(16), default="chat", server_default="chat")
    recorded_by: Mapped[int | None] = mapped_column(BigInteger)
    reason: Mapped[str | None] = mapped_column(String(200))  # an assisted vote's, a file's name


class SignInRow(Base):
    """签到 of a meeting: open until a chair closes it; its card in the council's chat."""

    __tablename__ = "sign_ins"

    meeting_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("meetings.id", ondelete="CASCADE"), primary_key=True
    )
    council_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("councils.id", ondelete="CASCADE"), index=True
    )
    opened_by: Mapped[int] = mapped_column(BigInteger)
    opened_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]
    message_ref: Mapped[int | None] = mapped_column(BigInteger)


class AttendanceRow(Base):
    """A member present at a meeting: checked in (``by_user`` None) or marked by a chair."""

    __tablename__ = "attendance"

    meeting_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("sign_ins.meeting_id", ondelete="CASCADE"), primary_key=True
    )
    member_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("members.id", ondelete="CASCADE"), primary_key=True
    )
    at: Mapped[datetime]
    by_user: Mapped[int | None] = mapped_column(BigInteger)


class PaperUploadRow(Base):
    """A file of paper ballots checked against a ballot: its plan (the dry run) waits
    here for the confirm button, as ``roster_imports`` does for a roll file."""

    __tablename__ = "paper_uploads"

    id: Mapped[int] = _id()
    ballot_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("ballots.id", ondelete="CASCADE"), index=True
    )
    council_id: Mapped[int] = mapped_column(IdType, ForeignKey("councils.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(BigInteger)  # who uploaded it
    file_name: Mapped[str] = mapped_column(String(255))
    digest: Mapped[str] = mapped_column(String(64))  # sha256 of the file
    plan: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))  # pending, applied, cancelled
    created_at: Mapped[datetime]
    decided_at: Mapped[datetime | None]


class ResolutionRow(Base):
    __tablename__ = "resolutions"

    id: Mapped[int] = _id()
    council_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("councils.id", ondelete="CASCADE"), index=True
    )
    topic_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("topics.id", ondelete="CASCADE"), index=True
    )
    ballot_id: Mapped[int] = mapped_column(IdType, ForeignKey("ballots.id", ondelete="CASCADE"))
    result: Mapped[str] = mapped_column(String(16))
    summary: Mapped[str] = mapped_column(Text)
    recorded_at: Mapped[datetime]
    winner: Mapped[str | None] = mapped_column(String(64))


class DraftRow(Base):
    __tablename__ = "drafts"

    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    topic_id: Mapped[int] = mapped_column(IdType, ForeignKey("topics.id", ondelete="CASCADE"))
    text: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime]


class MeetingRow(Base):
    __tablename__ = "meetings"
    __table_args__ = (
        Index("ix_meetings_council_id_starts_at", "council_id", "starts_at"),
        Index("ix_meetings_status_starts_at", "status", "starts_at"),
    )

    id: Mapped[int] = _id()
    council_id: Mapped[int] = mapped_column(IdType, ForeignKey("councils.id", ondelete="CASCADE"))
    starts_at: Mapped[datetime]
    place: Mapped[str] = mapped_column(String(255))
    online: Mapped[bool] = mapped_column(Boolean)
    scheduled_by: Mapped[int] = mapped_column(BigInteger)
    changed_at: Mapped[datetime]
    items: Mapped[list[str]] = mapped_column(JSON)
    topic_ids: Mapped[list[int]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))
    version: Mapped[int] = mapped_column(Integer)
    message_ref: Mapped[int | None] = mapped_column(BigInteger)


class NoticeRow(Base):
    """The outbox: a message decided in a transaction, sent after it."""

    __tablename__ = "notices"
    __table_args__ = (Index("ix_notices_state_not_before", "state", "not_before"),)

    id: Mapped[int] = _id()
    key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    council_id: Mapped[int] = mapped_column(IdType, ForeignKey("councils.id", ondelete="CASCADE"))
    chat_id: Mapped[int] = mapped_column(BigInteger)
    thread_id: Mapped[int] = mapped_column(BigInteger, default=0)
    private: Mapped[bool] = mapped_column(Boolean)
    subject: Mapped[int] = mapped_column(BigInteger)
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    not_before: Mapped[datetime | None]
    created_at: Mapped[datetime]
    claimed_at: Mapped[datetime | None]
    # The process (``bot.runtime.presence``) that took it: a notice left SENDING by a process
    # that is gone is recovered at once, never while its sender may still send it.
    claimed_by: Mapped[int | None] = mapped_column(BigInteger)
    sent_at: Mapped[datetime | None]
    message_ref: Mapped[int | None] = mapped_column(BigInteger)


class ContactRow(Base):
    """Whether the bot may write to a person privately (they started it, never blocked it)."""

    __tablename__ = "contacts"

    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    reachable: Mapped[bool] = mapped_column(Boolean)
    updated_at: Mapped[datetime]


class TeamRow(Base):
    __tablename__ = "teams"
    __table_args__ = (UniqueConstraint("council_id", "name"),)

    id: Mapped[int] = _id()
    council_id: Mapped[int] = mapped_column(IdType, ForeignKey("councils.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    leader_member_ids: Mapped[list[int]] = mapped_column(JSON)


class UnitRow(Base):
    """A member unit (成员单位)."""

    __tablename__ = "units"
    __table_args__ = (UniqueConstraint("council_id", "name"),)

    id: Mapped[int] = _id()
    council_id: Mapped[int] = mapped_column(IdType, ForeignKey("councils.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    contact_user_ids: Mapped[list[int]] = mapped_column(JSON)
    services: Mapped[list[str]] = mapped_column(JSON)


class VolunteerRow(Base):
    __tablename__ = "volunteers"

    council_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("councils.id", ondelete="CASCADE"), primary_key=True
    )
    member_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("members.id", ondelete="CASCADE"), primary_key=True
    )
    skills: Mapped[list[str]] = mapped_column(JSON)
    grid: Mapped[str] = mapped_column(String(64))
    team_id: Mapped[int | None] = mapped_column(
        IdType, ForeignKey("teams.id", ondelete="SET NULL"), index=True
    )
    available: Mapped[bool] = mapped_column(Boolean)
    registered_at: Mapped[datetime]


class TaskRow(Base):
    __tablename__ = "tasks"
    __table_args__ = (
        Index("ix_tasks_council_id_state", "council_id", "state"),
        # A member's requests of the last hour are counted against their limit.
        Index("ix_tasks_requester_member_id_created_at", "requester_member_id", "created_at"),
    )

    id: Mapped[int] = _id()
    council_id: Mapped[int] = mapped_column(IdType, ForeignKey("councils.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text)
    skill: Mapped[str | None] = mapped_column(String(64))
    grid: Mapped[str] = mapped_column(String(64))
    place: Mapped[str] = mapped_column(String(255))
    source: Mapped[str] = mapped_column(String(16))
    topic_id: Mapped[int | None] = mapped_column(
        IdType, ForeignKey("topics.id", ondelete="CASCADE"), index=True
    )
    requester_member_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("members.id"))
    unit_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("units.id"))
    team_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("teams.id"))
    member_ids: Mapped[list[int]] = mapped_column(JSON)
    due: Mapped[datetime | None]
    state: Mapped[str] = mapped_column(String(16))
    round: Mapped[int] = mapped_column(Integer)
    accepted_by: Mapped[int | None] = mapped_column(IdType, ForeignKey("members.id"))
    accepted_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    hours: Mapped[Decimal] = mapped_column(Numeric(6, 2))
    photo: Mapped[str | None] = mapped_column(String(255))
    note: Mapped[str] = mapped_column(Text)
    confirmed: Mapped[bool] = mapped_column(Boolean)
    card_ref: Mapped[int | None] = mapped_column(BigInteger)
    created_by: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime]


class OfferRow(Base):
    """A task offered to one volunteer: at most once per task and volunteer."""

    __tablename__ = "offers"
    __table_args__ = (
        UniqueConstraint("task_id", "member_id"),
        Index("ix_offers_member_id_offered_at", "member_id", "offered_at"),
        Index("ix_offers_state_expires_at", "state", "expires_at"),
    )

    id: Mapped[int] = _id()
    task_id: Mapped[int] = mapped_column(IdType, ForeignKey("tasks.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column(IdType, ForeignKey("members.id", ondelete="CASCADE"))
    round: Mapped[int] = mapped_column(Integer)
    offered_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    state: Mapped[str] = mapped_column(String(16))
    answered_at: Mapped[datetime | None]
    message_ref: Mapped[int | None] = mapped_column(BigInteger)


class HoursRow(Base):
    """The service-hours ledger: one line per finished task."""

    __tablename__ = "service_hours"
    __table_args__ = (Index("ix_service_hours_council_id_member_id", "council_id", "member_id"),)

    task_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True
    )
    council_id: Mapped[int] = mapped_column(IdType, ForeignKey("councils.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column(IdType, ForeignKey("members.id", ondelete="CASCADE"))
    team_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("teams.id", ondelete="SET NULL"))
    hours: Mapped[Decimal] = mapped_column(Numeric(6, 2))
    at: Mapped[datetime]


class ProcessedUpdateRow(Base):
    """Keys of updates already handled, so a redelivery changes nothing."""

    __tablename__ = "processed_updates"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(index=True)


class InboxRow(Base):
    """The durable update inbox: an update from the messenger, stored before the
    messenger is told it arrived, and handled from here.

    ``(bot_id, update_id)`` is unique, so a redelivered update is stored once; rows
    are pruned once the messenger can no longer redeliver them (Telegram keeps an
    update 24 hours), so a sequence of update ids that starts again is new.
    """

    __tablename__ = "inbox"
    __table_args__ = (
        UniqueConstraint("bot_id", "update_id"),
        Index("ix_inbox_handled_at_id", "handled_at", "id"),
        Index("ix_inbox_received_at", "received_at"),
    )

    id: Mapped[int] = _id()
    bot_id: Mapped[int] = mapped_column(BigInteger)
    update_id: Mapped[int] = mapped_column(BigInteger)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    received_at: Mapped[datetime]
    claimed_by: Mapped[int | None] = mapped_column(BigInteger)  # the process handling it
    handled_at: Mapped[datetime | None]


class WebLinkRow(Base):
    """A one-time sign-in link to the staff console, sent privately by ``/console``:
    only its HMAC is kept, used once, valid minutes."""

    __tablename__ = "web_links"
    __table_args__ = (Index("ix_web_links_user_id_created_at", "user_id", "created_at"),)

    id: Mapped[int] = _id()
    council_id: Mapped[int] = mapped_column(IdType, ForeignKey("councils.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(BigInteger)  # the chair or staff member's account
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class LoginKeyRow(Base):
    """A household's login key (登录码), the second QR code of its printed card: signs a
    browser in as that roll entry, as often as scanned, until revoked or reissued."""

    __tablename__ = "login_keys"

    id: Mapped[int] = _id()
    council_id: Mapped[int] = mapped_column(IdType, ForeignKey("councils.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("members.id", ondelete="CASCADE"), index=True
    )
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    created_by: Mapped[int | None] = mapped_column(BigInteger)
    revoked_at: Mapped[datetime | None]


class WebSessionRow(Base):
    """A signed-in browser: staff (a chair or staff member's account) or a resident (a
    roll entry). Only the cookie's HMAC is kept; revoking ends it at the next request."""

    __tablename__ = "web_sessions"

    id: Mapped[int] = _id()
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    council_id: Mapped[int] = mapped_column(IdType, ForeignKey("councils.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))  # staff | resident
    user_id: Mapped[int | None] = mapped_column(BigInteger)
    member_id: Mapped[int | None] = mapped_column(
        IdType, ForeignKey("members.id", ondelete="CASCADE"), index=True
    )
    via: Mapped[str] = mapped_column(String(16))  # link | key | telegram
    key_id: Mapped[int | None] = mapped_column(
        IdType, ForeignKey("login_keys.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class WebAccessRow(Base):
    """The web's audit trail of signing in: every link and key used or refused, every
    key issued or revoked, every Mini App sign-in; failures per client are the rate
    limit."""

    __tablename__ = "web_access"
    __table_args__ = (
        Index("ix_web_access_client_at", "client", "at"),
        Index("ix_web_access_council_id_at", "council_id", "at"),
    )

    id: Mapped[int] = _id()
    at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(24))
    ok: Mapped[bool] = mapped_column(Boolean)
    council_id: Mapped[int | None] = mapped_column(
        IdType, ForeignKey("councils.id", ondelete="CASCADE")
    )
    member_id: Mapped[int | None] = mapped_column(
        IdType, ForeignKey("members.id", ondelete="CASCADE")
    )
    user_id: Mapped[int | None] = mapped_column(BigInteger)
    client: Mapped[str | None] = mapped_column(String(64))  # the browser's address
    detail: Mapped[str | None] = mapped_column(String(200))


metadata = Base.metadata
