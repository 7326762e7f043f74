"""Ballots: /ballot, vote buttons, /close, /result."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from telegram import Update
from telegram.ext import ContextTypes

from bot.i18n import Markup, t
from bot.telegram import render
from bot.telegram.context import (
    deps,
    keyed_uow,
    now,
    thread_of,
    uow,
    update_key,
    user_language,
)
from bot.telegram.handlers.common import council_here, group_only, quiet_answer, refusals, refuse
from bot.telegram.mini_app import MiniApp
from domain import errors, services
from domain.model import BallotKind
from domain.numbers import looks_like_id, parse_id
from domain.rules import PRESETS
from domain.when import parse_duration

KIND_WORDS = {
    "motion": BallotKind.MOTION,
    "动议": BallotKind.MOTION,
    "options": BallotKind.OPTIONS,
    "选项": BallotKind.OPTIONS,
    "choice": BallotKind.OPTIONS,
}
SECRET_WORDS = {"secret": True, "无记名": True, "不记名": True, "open": False, "记名": False}
UNTIL_WORDS = ("until", "by", "截止", "截至", "截止到")
RULE_WORDS = {
    "简单多数": "simple",
    "三分之二": "two-thirds",
    "居民会议": "residents-meeting",
    "业主一般": "owners-ordinary",
    "业主重大": "owners-major",
    "一致": "consensus",
}


@dataclass
class BallotArgs:
    kind: BallotKind = BallotKind.MOTION
    rule_name: str | None = None
    secret: bool = False
    proposal_ids: list[int] = field(default_factory=list)
    deadline: str | None = None  # "48h", or what followed "until": "12-01 20:00"


def parse_ballot_args(args: Sequence[str]) -> BallotArgs:
    """Read "/ballot [motion|options] [rule] [secret|open] [#id …] [48h | until <time>]"."""
    parsed = BallotArgs()
    for index, raw in enumerate(args):
        word = raw.strip().lower()
        if word in UNTIL_WORDS:
            parsed.deadline = " ".join(args[index + 1 :]) or None
            if parsed.deadline is None:
                raise errors.InvalidInput(field="ballot_usage", value=raw[:30])
            break
        if parse_duration(word) is not None:
            parsed.deadline = word
        elif word in KIND_WORDS:
            parsed.kind = KIND_WORDS[word]
        elif word in SECRET_WORDS:
            parsed.secret = SECRET_WORDS[word]
        elif word in PRESETS or word in RULE_WORDS:
            parsed.rule_name = RULE_WORDS.get(word, word)
        elif looks_like_id(word):  # "#3" or "3"; "#²" is refused as a number
            parsed.proposal_ids.append(parse_id(raw))
            parsed.kind = BallotKind.OPTIONS
        else:
            raise errors.InvalidInput(field="ballot_usage", value=raw[:30])
    return parsed


@refusals
@group_only
async def ballot(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message, user = update.effective_message, update.effective_user
    assert message is not None and user is not None
    args = parse_ballot_args(context.args or [])
    view = await services.put_ballot_in_chat(
        keyed_uow(update, context),
        chat_id=message.chat_id,
        thread_id=thread_of(message),
        user_id=user.id,
        kind=args.kind,
        proposal_ids=args.proposal_ids,
        rule_name=args.rule_name,
        secret=args.secret,
        deadline=args.deadline,
        now=now(context),
    )
    assert view.ballot.id is not None
    app = MiniApp.of(deps(context).settings, context.bot.username)
    text, markup = render.ballot_message(view.council.language, view, deps(context).signer, app)
    sent = await message.reply_text(text, reply_markup=markup)
    await services.set_ballot_message(
        uow(context), ballot_id=view.ballot.id, message_ref=sent.message_id
    )


@refusals
async def vote(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None
    press = deps(context).signer.parse(query.data)
    if press is None or press.action != "v":
        raise errors.StaleButton()
    result = await deps(context).ballot_box.cast(
        services.VoteRequest(
            key=update_key(update, context),
            ballot_id=press.target,
            user_id=query.from_user.id,
            choice=press.arg,
            message_ref=query.message.message_id if query.message else None,
        )
    )
    if isinstance(result, errors.Redelivered):
        await quiet_answer(update)
        return
    if isinstance(result, errors.DomainError):
        # Already recorded as answered with the batch: refuse without claiming again.
        await refuse(update, context, result)
        return
    lang = user_language(update, context)
    label = render.plain(render.choice_label(lang, result.ballot, result.choice))
    if result.repeated:
        answer = t(lang, "vote.same", choice=label)
    elif result.changed:
        previous = render.plain(render.choice_label(lang, result.ballot, result.previous or ""))
        answer = t(lang, "vote.changed", choice=label, previous=previous)
    else:
        answer = t(lang, "vote.recorded", choice=label)
    # The vote is stored: if this answer is lost on the way, nothing may say it failed
    # (bot.telegram.app.on_error stays silent on network errors).
    await query.answer(render.plain(answer))


@refusals
@group_only
async def close(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message, user = update.effective_message, update.effective_user
    assert message is not None and user is not None
    _council, council_id = await council_here(update, context)
    # The outcome is queued with the closing; the outbox freezes the ballot message,
    # posts the outcome and refreshes the topic card.
    await services.close_ballot(
        keyed_uow(update, context), council_id=council_id, user_id=user.id, now=now(context)
    )


@refusals
@group_only
async def result(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    assert message is not None
    _council, council_id = await council_here(update, context)
    view = await services.latest_result(uow(context), council_id=council_id)
    lang = user_language(update, context)
    if view.ballot.is_open:
        text, _ = render.ballot_message(lang, view, deps(context).signer)
        # ``text`` is rendered HTML: as Markup, or adding it would escape it again.
        await message.reply_text(t(lang, "result.provisional") + "\n\n" + Markup(text))
    else:
        await message.reply_text(render.outcome_message(lang, view))
