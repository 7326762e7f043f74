"""What the volunteering use cases read and check first: the member acting (on the
roll and active), a skill the council knows, a text within its limit, members by id.
"""

from __future__ import annotations

from collections.abc import Sequence

from domain import errors
from domain.model import Council, Member, MemberStatus
from domain.ports import UnitOfWork


def clean_text(text: str, *, field: str, limit: int, required: bool = True) -> str:
    """Typed text on one line (a description keeps its lines), within ``limit``."""
    text = " ".join(text.split()) if field != "description" else text.strip()
    if required and not text:
        raise errors.InvalidInput(field=field)
    if len(text) > limit:
        raise errors.TextTooLong(field=field, limit=limit, length=len(text))
    return text


async def active_member(uow: UnitOfWork, council_id: int, user_id: int) -> Member:
    """The user's entry on the council's roll; refused unless it is active."""
    member = await uow.members.by_user(council_id, user_id)
    if member is None or member.status is not MemberStatus.ACTIVE:
        raise errors.NotMember()
    assert member.id is not None
    return member


def known_skill(council: Council, skill: str | None) -> str | None:
    """``skill`` if the council knows it (None stays None); refused otherwise."""
    if skill is None:
        return None
    if skill not in council.all_skills:
        raise errors.UnknownSkill(skill=skill, skills=", ".join(council.all_skills))
    return skill


async def members_in_order(uow: UnitOfWork, member_ids: Sequence[int]) -> list[Member]:
    """The members with these ids, in the order given; unknown ids are left out."""
    found = await uow.members.by_ids(member_ids)
    return [found[i] for i in member_ids if i in found]
