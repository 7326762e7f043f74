"""Ballot views the web keeps between page views.

A ballot's figures are counted over its council's roll (at 10,000 households a count
is tens of milliseconds), and during a meeting everyone opens the same page and its
tally refreshes every few seconds. A view is reused while its ballot row is unchanged
and it has no newer vote event, or for ``fresh`` after it was counted even if votes
came since (the tally on the page, like the group's message, may be that much behind).
A resident's own vote drops the view, so the voter sees it counted at once.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta

from domain.model import Ballot
from domain.services import BallotView

FRESH = timedelta(seconds=2)
KEPT = 512  # ballots; the least recently counted go first


@dataclass(frozen=True)
class _Kept:
    view: BallotView
    at: datetime


class Tallies:
    def __init__(self, fresh: timedelta = FRESH, size: int = KEPT) -> None:
        self._fresh = fresh
        self._size = size
        self._kept: OrderedDict[int, _Kept] = OrderedDict()
        self.counted = 0  # views counted, not reused (for the tests and the bench)

    def reuse(self, now: datetime) -> ReuseAt:
        return ReuseAt(self, now)

    def get(self, ballot: Ballot, seq: int, now: datetime) -> BallotView | None:
        assert ballot.id is not None
        kept = self._kept.get(ballot.id)
        if kept is None or _moment(kept.view.ballot) != _moment(ballot):
            return None  # closed, cancelled, its deadline moved: counted anew
        if kept.view.seq == seq or now - kept.at < self._fresh:
            return kept.view
        return None

    def put(self, view: BallotView, now: datetime) -> None:
        """Keep a view just counted (one reused is kept as it was, with its moment)."""
        assert view.ballot.id is not None
        kept = self._kept.get(view.ballot.id)
        if kept is not None and kept.view is view:
            return
        self.counted += 1
        self._kept[view.ballot.id] = _Kept(view, now)
        self._kept.move_to_end(view.ballot.id)
        while len(self._kept) > self._size:
            self._kept.popitem(last=False)

    def forget(self, ballot_id: int) -> None:
        self._kept.pop(ballot_id, None)


def _moment(ballot: Ballot) -> tuple[datetime | None, datetime | None]:
    # Not the whole row: the group message's own bookkeeping (rendered_seq) changes
    # with every redraw of the tally, which is no reason to count again.
    return ballot.closed_at, ballot.deadline


@dataclass(frozen=True)
class ReuseAt:
    """``reuse`` for ``residents.council_ballot`` at one moment."""

    tallies: Tallies
    now: datetime

    def __call__(self, ballot: Ballot, seq: int) -> BallotView | None:
        return self.tallies.get(ballot, seq, self.now)
