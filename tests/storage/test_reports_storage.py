"""The staff's reports read the same from the fakes, SQLite and PostgreSQL: one sitting
(a meeting with a sign-in, a closed open ballot, a secret one still open, votes from the
chat, the room and a home visit) built on each store, and every report compared, field
by field (ids aside, which a database numbers its own way), with the one the fakes give.
"""

from __future__ import annotations

import io
from typing import cast

from bot.i18n import ZH_CN
from bot.reports.minutes import ballot_minutes_docx, meeting_minutes_docx
from domain.ports import UnitOfWorkFactory
from domain.services import reports
from tests.domain.builders import ident
from tests.domain.test_reports import STAFF, Sitting, sitting
from tests.fakes import FakeUnitOfWorkFactory


async def _read(uows: UnitOfWorkFactory) -> dict[str, object]:
    # The builders are typed for the fakes; they only call the factory, as any store's.
    s: Sitting = await sitting(cast(FakeUnitOfWorkFactory, uows))
    turnout = await reports.turnout(uows(), council_id=s.council_id, user_id=STAFF)
    found: dict[str, object] = {
        "turnout": [
            (t.title, t.state, t.result, t.opened_at, t.closed_at, dict(t.roll), dict(t.took_part))
            for t in turnout
        ]
    }
    for name, ballot in (("open", s.open_ballot), ("secret", s.secret_ballot)):
        trail = await reports.ballot_audit(uows(), ballot_id=ident(ballot), user_id=STAFF)
        found[f"{name} audit"] = [
            (
                line.seq,
                line.at,
                line.name,
                line.household,
                line.action,
                line.source,
                line.recorded_by,
                line.reason,
                line.choice,
                line.previous,
            )
            for line in trail.lines
        ]
        record = await reports.ballot_record(uows(), ballot_id=ident(ballot), user_id=None)
        found[f"{name} record"] = [
            (v.name, v.household, v.choice, v.source, v.at, v.counted) for v in record.lines
        ]
        assert record.figures.outcome is not None
        found[f"{name} figures"] = (
            record.figures.outcome.to_dict(),
            dict(record.figures.sources),
            record.figures.state,
        )
        minutes = await reports.ballot_minutes(uows(), ballot_id=ident(ballot), user_id=None)
        found[f"{name} minutes"] = _paragraphs(ballot_minutes_docx(ZH_CN, minutes))
    meeting = await reports.meeting_minutes(uows(), meeting_id=ident(s.meeting), user_id=None)
    found["meeting"] = (
        [(a.name, a.household, a.at, a.marked_by is None) for a in meeting.attendance],
        meeting.roll_size,
        meeting.items,
        [
            [(p.text, p.author, p.seconded_by, p.created_at) for p in r.proposals]
            for r in meeting.topics
        ],
    )
    found["meeting minutes"] = _paragraphs(meeting_minutes_docx(ZH_CN, meeting))
    listed = await reports.meeting_list(uows(), council_id=s.council_id, user_id=STAFF)
    found["meetings"] = [(m.starts_at, m.place, m.status) for m in listed]
    return found


def _paragraphs(data: bytes) -> list[str]:
    from docx import Document

    return [p.text for p in Document(io.BytesIO(data)).paragraphs]


async def test_reports_read_the_same_from_every_store(uows: UnitOfWorkFactory) -> None:
    expected = await _read(FakeUnitOfWorkFactory())
    found = await _read(uows)
    assert found.keys() == expected.keys()
    for key in expected:
        assert found[key] == expected[key], key
    assert len(cast(list[object], found["turnout"])) == 2
    assert "表决结果：通过" in cast(list[str], found["meeting minutes"])
