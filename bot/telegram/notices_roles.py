"""What the roll's and roles' notices say: a join to approve (to chairs and staff, with
the address, privately), its answer to the applicant, a chair no longer a group admin."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.i18n import language_of, t
from bot.runtime.messenger import Outgoing
from bot.telegram import render_roles
from bot.telegram.render import mention
from domain import services
from domain.model import MemberStatus, Notice

if TYPE_CHECKING:
    from bot.telegram.notices import NoticeRenderer


async def join_pending(renderer: NoticeRenderer, notice: Notice) -> Outgoing | None:
    member = await services.member_by_id(renderer.uow(), member_id=notice.subject)
    if member is None or member.status is not MemberStatus.PENDING:
        return None  # decided before the request went out
    council = await services.council_by_id(renderer.uow(), council_id=member.council_id)
    lang = council.language
    text = t(lang, "join.review") + "\n" + render_roles.entry_text(lang, council, member)
    return Outgoing(text, render_roles.entry_keyboard(lang, member, renderer.signer))


async def join_decided(renderer: NoticeRenderer, notice: Notice) -> Outgoing | None:
    member = await services.member_by_id(renderer.uow(), member_id=notice.subject)
    if member is None:
        return None
    council = await services.council_by_id(renderer.uow(), council_id=member.council_id)
    approved = bool(notice.params.get("approved"))
    if notice.private:
        lang = language_of(str(notice.params.get("language") or ""), council.language)
        key = "join.approved" if approved else "join.rejected"
        return Outgoing(t(lang, key, council=council.title))
    # The applicant never started the bot: answered where they asked, by name only.
    lang = council.language
    who = mention(member.user_id, member.name) if member.user_id else member.name
    key = "join.approved_group" if approved else "join.rejected_group"
    return Outgoing(t(lang, key, name=who))


async def chair_left(renderer: NoticeRenderer, notice: Notice) -> Outgoing:
    council = await services.council_by_id(renderer.uow(), council_id=notice.subject)
    lang = council.language
    user_id = int(str(notice.params.get("user_id", 0)))
    who = mention(user_id, str(notice.params.get("name") or user_id))
    key = "chair.left_kept" if notice.params.get("kept") else "chair.left"
    return Outgoing(t(lang, key, name=who, council=council.title))
