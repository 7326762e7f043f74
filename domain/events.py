"""Domain events: what a use case changed that something outside the transaction must
follow (a job to plan, a card to show, a tally to refresh, a notice to send).

A use case records its events in the unit of work (``uow.record``). They are kept only
if the unit of work commits, and once it has ended the message bus the front end wired
in (``bot.runtime.bus``) hands them to whoever follows them. A use case never calls the
scheduler, the outbox or a messenger itself, and a handler never has to remember to.
"""

from __future__ import annotations

from dataclasses import dataclass

from domain.schedule import Job, Subject


class Event:
    """Base of every domain event: frozen dataclasses, so one commit's repeats merge."""


@dataclass(frozen=True)
class ScheduleChanged(Event):
    """A ballot's, topic's, meeting's or task's moments were set, moved or ended.

    Carries the plan as read in the transaction that changed it (``jobs``: what should
    be planned now; ``ids``: every job the subject may have, to drop the others), so
    following it reads nothing again."""

    subject: Subject
    target: int
    ids: tuple[str, ...]
    jobs: tuple[Job, ...]


@dataclass(frozen=True)
class RemindersChanged(Event):
    """A council's reminder offsets changed: every meeting's and ballot's reminders move."""

    council_id: int


@dataclass(frozen=True)
class TopicChanged(Event):
    """A topic's card shows something new: a proposal, a second, a ballot, a phase."""

    topic_id: int


@dataclass(frozen=True)
class ProposalChanged(Event):
    """A proposal's own message in the group shows something new (a second made off the
    chat, on the web page)."""

    proposal_id: int


@dataclass(frozen=True)
class MeetingChanged(Event):
    """A meeting's card shows something new: moved, cancelled, its agenda changed."""

    meeting_id: int


@dataclass(frozen=True)
class VoteCast(Event):
    """A vote was recorded or changed: the live tally is out of date."""

    ballot_id: int


@dataclass(frozen=True)
class BallotChanged(Event):
    """A ballot's message must be redrawn now (its deadline moved, it was cancelled)."""

    ballot_id: int


@dataclass(frozen=True)
class SignInChanged(Event):
    """A meeting's sign-in card shows something new: who checked in, closed."""

    meeting_id: int


@dataclass(frozen=True)
class NoticesQueued(Event):
    """Notices wait in the outbox."""


class Recorded:
    """One unit of work's events: pending until it commits, dropped if it rolls back."""

    def __init__(self) -> None:
        self._pending: list[Event] = []
        self._committed: list[Event] = []

    def record(self, event: Event) -> None:
        self._pending.append(event)

    def committed(self) -> None:
        self._committed += self._pending
        self._pending = []

    def rolled_back(self) -> None:
        self._pending = []

    def take(self) -> list[Event]:
        """The committed events, each once, in the order first recorded; then forget them."""
        events, self._committed, self._pending = list(dict.fromkeys(self._committed)), [], []
        return events
