"""What the notice of a recorded vote says: to the member, privately, who recorded
which vote and how, with buttons to change it until the ballot closes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.i18n import language_of
from bot.runtime.messenger import Outgoing
from bot.telegram import render_recorded
from domain import services
from domain.model import Notice
from domain.services import recorded

if TYPE_CHECKING:
    from bot.telegram.notices import NoticeRenderer


async def vote_recorded(renderer: NoticeRenderer, notice: Notice) -> Outgoing | None:
    member_id = int(str(notice.params.get("member", 0)))
    ballot, vote = await recorded.recorded_for(
        renderer.uow(), ballot_id=notice.subject, member_id=member_id
    )
    if not ballot.is_open:
        return None  # closed before it could be said: the outcome says the rest
    council = await services.council_by_id(renderer.uow(), council_id=ballot.council_id)
    lang = language_of(str(notice.params.get("language") or ""), council.language)
    role = "chair" if notice.params.get("role") == "chair" else "staff"
    text, markup = render_recorded.recorded_notice(
        lang, ballot, vote, role, renderer.signer, renderer.mini_app()
    )
    return Outgoing(text, markup)
