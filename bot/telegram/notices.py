"""What each queued notice says: rendered when it is sent, from the state then.

A renderer returns the message to send, or None when there is nothing to say
any more (the meeting was cancelled after its reminder was queued, …). Words
are chosen here, never in the domain.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

from telegram import Bot, InputFile, ReplyParameters
from telegram.error import TelegramError

from bot.config import Settings
from bot.i18n import Markup, joined, language_of, t
from bot.reports import charts
from bot.runtime.messenger import Outgoing
from bot.telegram import (
    notices_proposals,
    notices_recorded,
    notices_roles,
    render,
    render_dispatch,
)
from bot.telegram.buttons import Signer
from bot.telegram.cards import refresh_topic_card
from bot.telegram.messenger import CAPTION, PHOTO_NAME
from bot.telegram.mini_app import MiniApp, ballot_start, private_row
from bot.telegram.tally import TallyRefresher
from domain import errors, meetings, services, volunteering
from domain.model import Notice, NoticeKind
from domain.ports import UnitOfWorkFactory

log = logging.getLogger(__name__)

TASK_VIEW_SECONDS = 2.0


@dataclass
class NoticeRenderer:
    bot: Bot
    uow: UnitOfWorkFactory
    signer: Signer
    refresher: TallyRefresher
    chart_font: str | None = None  # YISHI_CARDS_FONT; else Debian's fonts-noto-cjk
    caption_limit: int = CAPTION  # the longest outcome sent as the chart's caption
    settings: Settings | None = None  # the web's: the Mini App's buttons
    _tasks: dict[int, tuple[float, volunteering.TaskView]] = field(default_factory=dict)

    def mini_app(self) -> MiniApp | None:
        """The Mini App's buttons, where the web is configured."""
        return MiniApp.of(self.settings, self.bot.username)

    async def __call__(self, notice: Notice) -> Outgoing | None:
        try:
            return await _RENDERERS[notice.kind](self, notice)
        except (
            errors.BallotNotFound,
            errors.MeetingNotFound,
            errors.CouncilNotSetUp,
            errors.TaskNotFound,
            errors.StaleButton,
        ):
            return None  # deleted meanwhile: nothing left to announce

    async def ballot_outcome(self, notice: Notice) -> Outgoing:
        try:
            await self.refresher.refresh(notice.subject, force=True)  # freeze the live tally
        except TelegramError:  # the ballot message is gone: the outcome is said all the same
            log.warning("could not freeze the message of ballot %s", notice.subject, exc_info=True)
        view = await services.ballot_view(self.uow(), ballot_id=notice.subject)
        lang = view.council.language
        text = render.outcome_message(lang, view, late=bool(notice.params.get("late")))
        deadline = _time(notice.params.get("deadline"))
        if deadline is not None:
            when = render.moment(lang, deadline, view.council.timezone)
            # ``text`` is rendered HTML: as Markup, or adding it would escape it again.
            text = t(lang, "outcome.at_deadline", when=when) + "\n" + Markup(text)

        # The result chart, with the outcome as its caption. Only on a first attempt: a
        # photo Telegram refused is not what keeps an outcome from being announced.
        chart = await self._chart(view) if notice.attempts <= 1 else None
        # A caption holds 1,024 characters: a longer outcome goes as the text it is, and
        # the chart follows as a reply to it, once the outcome is out and recorded (so
        # the outcome itself is still sent at most once, and the chart never alone).
        inline = chart is not None and len(text) <= self.caption_limit

        async def after(message_id: int) -> None:
            if chart is not None and not inline:
                await self._chart_reply(notice, chart, message_id)
            await refresh_topic_card(
                self.bot, self.uow, self.signer, view.topic.id or 0, settings=self.settings
            )

        return Outgoing(
            text, reply_to=view.ballot.message_ref, after=after, photo=chart if inline else None
        )

    async def _chart(self, view: services.BallotView) -> bytes | None:
        """The ballot's result chart (PNG), drawn in a thread: matplotlib is CPU work.
        None, logged, when it cannot be drawn: the outcome then goes as text."""
        try:
            return await asyncio.to_thread(
                charts.result_chart, view.council.language, view, "png", font=self.chart_font
            )
        except Exception:
            log.warning(
                "could not draw the result chart of ballot %s; the outcome goes as text",
                view.ballot.id,
                exc_info=True,
            )
            return None

    async def _chart_reply(self, notice: Notice, chart: bytes, message_id: int) -> None:
        try:
            await self.bot.send_photo(
                notice.chat_id,
                InputFile(chart, filename=PHOTO_NAME),
                message_thread_id=notice.thread_id or None,
                reply_parameters=ReplyParameters(message_id, allow_sending_without_reply=True),
            )
        except TelegramError:  # the outcome is out: the picture is a courtesy
            log.warning("could not post the result chart of %s", notice.key, exc_info=True)

    async def ballot_opened(self, notice: Notice) -> Outgoing | None:
        view = await services.ballot_view(self.uow(), ballot_id=notice.subject)
        lang = view.council.language
        text, markup = render.ballot_message(lang, view, self.signer, self.mini_app())
        if notice.params.get("moved"):  # the group became a supergroup: vote here now
            if not view.ballot.is_open:
                return None
            head = t(lang, "ballot.moved", title=view.topic.title)
        else:
            head = t(
                lang,
                "ballot.auto_opened",
                title=view.topic.title,
                count=int(str(notice.params.get("proposals", 0))),
            )

        async def after(message_id: int) -> None:
            # Remembering the message updates the topic card (``TopicChanged``).
            await services.set_ballot_message(
                self.uow(), ballot_id=notice.subject, message_ref=message_id
            )

        return Outgoing(head + "\n\n" + text, markup, reply_to=view.topic.card_ref, after=after)

    async def ballot_nudge(self, notice: Notice) -> Outgoing | None:
        view = await services.ballot_view(self.uow(), ballot_id=notice.subject)
        if not view.ballot.is_open:
            return None
        council = view.council
        lang = language_of(str(notice.params.get("language") or ""), council.language)
        deadline = view.ballot.deadline or _time(notice.params.get("deadline"))
        when = render.moment(lang, deadline, council.timezone) if deadline else "?"
        text = t(
            lang, "nudge.private", question=view.ballot.question, when=when, council=council.title
        )
        start = ballot_start(notice.subject)
        return Outgoing(text, render.keyboard(private_row(self.mini_app(), lang, start)))

    async def non_voters(self, notice: Notice) -> Outgoing | None:
        view = await services.ballot_view(self.uow(), ballot_id=notice.subject)
        if not view.ballot.is_open:
            return None
        council = view.council
        lang = council.language
        members = notice.params.get("members")
        names = [
            render.mention(int(user_id), str(name))
            for user_id, name in (members if isinstance(members, list) else [])
        ]
        deadline = view.ballot.deadline or _time(notice.params.get("deadline"))
        when = render.moment(lang, deadline, council.timezone) if deadline else "?"
        if view.ballot.secret:  # never a name in the group, whatever the notice holds
            text = t(lang, "nudge.group_secret", question=view.ballot.question, when=when)
        else:
            text = t(
                lang,
                "nudge.group",
                question=view.ballot.question,
                when=when,
                names=Markup(joined(lang, names)),
            )
        return Outgoing(text, reply_to=view.ballot.message_ref)

    async def meeting_reminder(self, notice: Notice) -> Outgoing | None:
        view = await meetings.meeting_view(self.uow(), meeting_id=notice.subject)
        meeting = view.meeting
        if not meeting.is_scheduled or meeting.version != notice.params.get("version"):
            return None  # cancelled or moved since: the moved meeting has its own reminders
        lang = view.council.language
        offset = int(str(notice.params.get("offset", 0)))
        return Outgoing(render.reminder_message(lang, view, offset), reply_to=meeting.message_ref)

    async def offer(self, notice: Notice) -> Outgoing | None:
        offer = await volunteering.offer_of(self.uow(), offer_id=notice.subject)
        if not offer.is_pending:
            return None  # answered, taken or expired before it could be sent
        view = await self._task(offer.task_id)
        # The volunteer's own language, noted when the offer was made.
        lang = language_of(str(notice.params.get("language") or ""), view.council.language)
        text, markup = render_dispatch.offer_message(lang, offer, view, self.signer)
        return Outgoing(text, markup, photo=view.task.photo)

    async def offer_unreachable(self, notice: Notice) -> Outgoing:
        view = await volunteering.task_view(self.uow(), task_id=notice.subject)
        lang = view.council.language
        members = notice.params.get("members")
        names = [
            render.mention(int(user_id), str(name))
            for user_id, name in (members if isinstance(members, list) else [])
        ]
        text = t(
            lang,
            "offer.unreachable",
            names=Markup(joined(lang, names)),
            title=render_dispatch.public_title(lang, view.task),
            bot=self.bot.username,
        )
        return Outgoing(text)

    async def task_accepted(self, notice: Notice) -> Outgoing | None:
        view = await volunteering.task_view(self.uow(), task_id=notice.subject)
        task = view.task
        if task.accepted_by is None:
            return None  # withdrawn meanwhile
        lang = view.council.language
        name = view.names.get(task.accepted_by, "?")
        title = task.title if notice.private else render_dispatch.public_title(lang, task)
        text = t(lang, "task.accepted_requester", id=task.id, title=title, name=name)
        if not notice.private and task.requester_member_id is not None:
            requester = view.names.get(task.requester_member_id, "")
            text = t(lang, "task.for_requester", name=requester) + text
        return Outgoing(text)

    async def task_exhausted(self, notice: Notice) -> Outgoing:
        view = await volunteering.task_view(self.uow(), task_id=notice.subject)
        lang = view.council.language
        if notice.private:  # to a chair or staff member: what and where, to arrange it
            lines: list[str] = [t(lang, "task.exhausted_staff", council=view.council.title)]
            lines += render_dispatch.task_details(lang, view)
            return Outgoing(render.fit("\n".join(lines)))
        text = t(
            lang,
            "task.exhausted",
            id=view.task.id,
            title=render_dispatch.public_title(lang, view.task),
            chairs=Markup(render_dispatch.chairs_mentions(lang, view.council)),
        )
        return Outgoing(text)

    async def task_done(self, notice: Notice) -> Outgoing:
        view = await volunteering.task_view(self.uow(), task_id=notice.subject)
        lang = view.council.language
        text, markup = render_dispatch.done_message(
            lang, view, self.signer, public=not notice.private
        )
        return Outgoing(text, markup)

    async def _task(self, task_id: int) -> volunteering.TaskView:
        """The task as its offers show it, read once for a whole call for help: the
        offers of one task, sent within a few seconds, show the same task."""
        now = time.monotonic()
        cached = self._tasks.get(task_id)
        if cached is not None and now - cached[0] < TASK_VIEW_SECONDS:
            return cached[1]
        view = await volunteering.task_view(self.uow(), task_id=task_id, with_offers=False)
        self._tasks = {k: v for k, v in self._tasks.items() if now - v[0] < TASK_VIEW_SECONDS}
        self._tasks[task_id] = (now, view)
        return view


def _time(value: object) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else None


_RENDERERS: dict[NoticeKind, Callable[[NoticeRenderer, Notice], Awaitable[Outgoing | None]]] = {
    NoticeKind.BALLOT_OUTCOME: NoticeRenderer.ballot_outcome,
    NoticeKind.BALLOT_OPENED: NoticeRenderer.ballot_opened,
    NoticeKind.BALLOT_NUDGE: NoticeRenderer.ballot_nudge,
    NoticeKind.NON_VOTERS: NoticeRenderer.non_voters,
    NoticeKind.MEETING_REMINDER: NoticeRenderer.meeting_reminder,
    NoticeKind.OFFER: NoticeRenderer.offer,
    NoticeKind.OFFER_UNREACHABLE: NoticeRenderer.offer_unreachable,
    NoticeKind.TASK_ACCEPTED: NoticeRenderer.task_accepted,
    NoticeKind.TASK_EXHAUSTED: NoticeRenderer.task_exhausted,
    NoticeKind.TASK_DONE: NoticeRenderer.task_done,
    NoticeKind.VOTE_RECORDED: notices_recorded.vote_recorded,
    NoticeKind.JOIN_PENDING: notices_roles.join_pending,
    NoticeKind.JOIN_DECIDED: notices_roles.join_decided,
    NoticeKind.CHAIR_LEFT: notices_roles.chair_left,
    NoticeKind.PROPOSAL_POSTED: notices_proposals.proposal_posted,
}
