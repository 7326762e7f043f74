"""What a member types fits the column it is stored in: the domain refuses longer text.

PostgreSQL refuses a string longer than its ``VARCHAR(n)`` (SQLite stores anything),
so every typed text must be limited by the domain to at most its column's length, or
the refusal comes from the database as a crash instead of from the domain as a message.
"""

from __future__ import annotations

import pytest
from sqlalchemy import String

from domain.model import MAX_ADDRESS_PART, MAX_NAME, MAX_PLACE, MAX_SKILL, MAX_TITLE
from storage.orm import (
    CouncilRow,
    MeetingRow,
    MemberRow,
    TaskRow,
    TeamRow,
    UnitRow,
    VolunteerRow,
)

HOUSEHOLD = 3 * MAX_ADDRESS_PART + 2  # "building-unit-room"


@pytest.mark.parametrize(
    ("column", "longest"),
    [
        (CouncilRow.title, MAX_TITLE),  # the chat's title, shortened
        (MemberRow.name, MAX_NAME),  # the messenger profile's name, shortened
        (MemberRow.building, MAX_ADDRESS_PART),  # /join 3-2-301
        (MemberRow.unit, MAX_ADDRESS_PART),
        (MemberRow.room, MAX_ADDRESS_PART),
        (MemberRow.household, HOUSEHOLD),
        (MeetingRow.place, MAX_PLACE),  # /meeting 明天 19:30 社区活动室
        (TeamRow.name, MAX_NAME),  # /team
        (UnitRow.name, MAX_NAME),  # /unit
        (VolunteerRow.grid, MAX_NAME),  # /volunteer 网格:3
        (TaskRow.title, MAX_TITLE),  # /task, /request
        (TaskRow.skill, MAX_SKILL),  # one of the council's skills
        (TaskRow.grid, MAX_ADDRESS_PART),  # the requester's building
        (TaskRow.place, max(MAX_PLACE, HOUSEHOLD)),  # 地点：…, else the household
    ],
    ids=lambda value: str(value),
)
def test_the_longest_text_the_domain_accepts_fits_its_column(column: object, longest: int) -> None:
    column_type = column.type  # type: ignore[attr-defined]
    assert isinstance(column_type, String) and column_type.length is not None
    assert longest <= column_type.length
