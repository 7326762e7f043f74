"""Turn use-case results into message texts and keyboards (HTML)."""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.helpers import mention_html

from bot.i18n import ZH_CN, Markup, escape, joined, t
from bot.telegram.buttons import Signer, agenda_data, calendar_data, second_data, vote_data
from bot.telegram.mini_app import MiniApp, ballot_start, group_row, topic_start
from domain.meetings import AgendaView, MeetingView
from domain.model import Ballot, BallotKind, Council, Meeting, Member, Phase, Proposal, VoteSource
from domain.rules import (
    PRESETS,
    Choice,
    Condition,
    ConditionCheck,
    Outcome,
    Quantity,
    Result,
    Rule,
)
from domain.services import BallotView, RollView, TopicView
from domain.when import zone

MAX_TEXT = 4000  # below Telegram's 4096, leaving room for a footer
ALERT_LIMIT = 200  # Telegram's limit on a callback answer
TAG = re.compile(r"<[^>]+>")
PREVIEW = 60  # characters of a proposal shown on a card or button

RESULT_MARK = {
    Result.PASSED: "✅",
    Result.REJECTED: "❌",
    Result.NO_QUORUM: "⚠️",
    Result.TIED: "⚖️",
}


def number(value: Fraction, quantity: Quantity) -> str:
    if value.denominator == 1:
        return str(value.numerator)
    if quantity is Quantity.AREA:
        exact = Decimal(value.numerator) / Decimal(value.denominator)
        return str(exact.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))
    return f"{value.numerator}/{value.denominator}"


def fraction(value: Fraction) -> str:
    return f"{value.numerator}/{value.denominator}" if value.denominator != 1 else "1"


def plain(text: str, limit: int = ALERT_LIMIT) -> str:
    """HTML made plain text, for callback answers (which Telegram does not parse)."""
    text = html.unescape(TAG.sub("", text))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def short(text: str, limit: int = PREVIEW) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- rules -----------------------------------------------------------------


def condition_text(lang: str, condition: Condition) -> str:
    return t(
        lang,
        "cond.inclusive" if condition.inclusive else "cond.strict",
        counted=Markup(t(lang, f"cond.counted.{condition.counted.value}")),
        quantity=Markup(t(lang, f"quantity.{condition.quantity.value}")),
        base=Markup(t(lang, f"cond.base.{condition.base.value}")),
        fraction=fraction(condition.fraction),
    )


def rule_name(lang: str, rule: Rule) -> str:
    if rule.name in PRESETS:
        return t(lang, f"rule.{rule.name}")
    return escape(rule.name)


def rule_text(lang: str, rule: Rule) -> str:
    sep = t(lang, "cond.and")
    quorum = (
        sep.join(condition_text(lang, c) for c in rule.quorum)
        if rule.quorum
        else t(lang, "rule.no_quorum")
    )
    passing = sep.join(condition_text(lang, c) for c in rule.passing)
    return t(
        lang,
        "rule.line",
        name=Markup(rule_name(lang, rule)),
        key=rule.name,
        quorum=Markup(quorum),
        passing=Markup(passing),
    )


def rules_message(lang: str, default: Rule) -> str:
    lines: list[str] = [t(lang, "rules.title")]
    for rule in PRESETS.values():
        mark = t(lang, "rules.default") if rule.name == default.name else ""
        lines.append(rule_text(lang, rule) + mark)
    lines.append(t(lang, "rules.footer"))
    return "\n\n".join(lines)


# --- roll ------------------------------------------------------------------


def roll_messages(lang: str, view: RollView, *, detailed: bool = False) -> list[str]:
    """The roll, split into messages that each fit Telegram's limit. Addresses and areas
    are ``detailed``: for chairs and staff, in a private chat; the group sees names."""
    head = t(
        lang,
        # With one member on the roll, the total area would be theirs.
        "roll.title" if detailed else "roll.title_public",
        council=view.council.title,
        members=t(lang, "roll.members", count=len(view.voting)),
        households=t(lang, "roll.households", count=view.households),
        owners=t(lang, "roll.owners", count=view.owners),
        area=view.area,
    )
    if detailed and view.unverified:
        head += "\n" + t(lang, "roll.unverified", count=view.unverified)
    lines = [
        _roll_line(lang, i, m) if detailed else _public_line(lang, i, m)
        for i, m in enumerate(view.members, 1)
    ]
    if not lines:
        lines = [t(lang, "roll.empty")]
    if view.pending:
        lines.append(t(lang, "roll.pending", count=len(view.pending)))
    if not detailed:
        lines.append(t(lang, "roll.details_note"))
    return _paginate(head, lines)


def _public_line(lang: str, n: int, member: Member) -> str:
    """A member as the group sees it: the name, and whether it is on a ballot's base."""
    line = t(lang, "roll.name", n=n, name=member.name)
    return line if member.voting else line + t(lang, "roll.participant")


def _roll_line(lang: str, n: int, member: Member) -> str:
    """A member as staff see it: home, the flats it owns (verified or waiting), whether
    it is a participant (never on a ballot's base), and its phone."""
    line = t(lang, "roll.line", n=n, id=member.id, name=member.name, household=member.household)
    for flat in member.flats:
        key = "roll.flat" if flat.verified else "roll.flat_unverified"
        where = "" if flat.household == member.household else f"{flat.household} "
        line += t(lang, key, flat=where, area=flat.area)
    if not member.voting:
        line += t(lang, "roll.participant")
    if member.phone:
        line += t(lang, "roll.phone", phone=member.phone)
    return line


def roll_picker(councils: Sequence[Council], signer: Signer) -> InlineKeyboardMarkup | None:
    """One button a council: its detailed roll, as the group's 🔒 sends it."""
    return keyboard(
        [
            [InlineKeyboardButton(c.title, callback_data=signer.data("r", c.id or 0))]
            for c in councils
        ]
    )


def roll_keyboard(lang: str, council_id: int, signer: Signer) -> InlineKeyboardMarkup | None:
    """🔒 under the group's roll: chairs and staff get the detailed roll privately."""
    button = InlineKeyboardButton(
        t(lang, "button.full_roll"), callback_data=signer.data("r", council_id)
    )
    return keyboard([[button]])


def _paginate(head: str, lines: Sequence[str]) -> list[str]:
    pages: list[str] = []
    current = head
    for line in lines:
        if len(current) + 1 + len(line) > MAX_TEXT:
            pages.append(current)
            current = line
        else:
            current = f"{current}\n{line}"
    pages.append(current)
    return pages


# --- topics and proposals --------------------------------------------------


def keyboard(rows: list[list[InlineKeyboardButton]]) -> InlineKeyboardMarkup | None:
    # No markup at all (not an empty one): on an edit that removes the old buttons.
    return InlineKeyboardMarkup(rows) if rows else None


def topic_card(
    lang: str,
    view: TopicView,
    bot_username: str,
    signer: Signer,
    extra: Sequence[str] = (),
    app: MiniApp | None = None,
) -> tuple[str, InlineKeyboardMarkup | None]:
    """The topic card; ``extra`` lines follow (a resolution's tasks and their progress).
    With the web, a button opens the topic's page in the Mini App (``app``)."""
    topic = view.topic
    assert topic.id is not None
    lines: list[str] = [
        t(lang, "topic.card", id=topic.id, title=topic.title),
        t(lang, f"phase.{topic.phase.value}")
        + (f" {RESULT_MARK[topic.result]}" if topic.result else ""),
    ]
    if topic.description:
        lines.append(escape(short(topic.description, 600)))
    if view.proposals:
        lines.append(t(lang, "topic.proposals", count=len(view.proposals)))
        for proposal in view.proposals[:10]:
            author = view.authors.get(proposal.author_id)
            lines.append(
                t(
                    lang,
                    "topic.proposal_line",
                    id=proposal.id,
                    text=short(proposal.text),
                    author=author.name if author else "?",
                    count=len(proposal.seconds),
                )
            )
        if len(view.proposals) > 10:
            lines.append(t(lang, "topic.more", count=len(view.proposals) - 10))
    elif topic.phase is Phase.COLLECTING:
        lines.append(t(lang, "topic.no_proposals"))
    lines.extend(extra)
    buttons: list[list[InlineKeyboardButton]] = []
    if topic.phase is Phase.COLLECTING:
        lines.append(t(lang, "topic.how_to_propose", id=topic.id))
        buttons.append(
            [
                InlineKeyboardButton(
                    t(lang, "button.write_proposal"),
                    url=deep_link(bot_username, signer.link("p", topic.id)),
                )
            ]
        )
    buttons += group_row(app, lang, topic_start(topic.id))
    return fit("\n".join(lines)), keyboard(buttons)


def _closed_line(lang: str, ballot: Ballot) -> str:
    """A closed ballot's message says how it ended: it stands for the outcome even if
    the outcome's own message was lost to a crash (it is never sent twice)."""
    if ballot.cancelled:
        return t(lang, "ballot.cancelled")
    if ballot.outcome is None:
        return t(lang, "ballot.closed")
    return t(lang, "ballot.closed_as", result=t(lang, f"result.{ballot.outcome.result.value}"))


def deep_link(bot_username: str, payload: str) -> str:
    """A link that opens the private chat with the bot and sends ``/start payload``."""
    return f"https://t.me/{bot_username}?start={payload}"


def proposal_message(
    lang: str, proposal: Proposal, author: Member, signer: Signer, *, open_for_seconds: bool
) -> tuple[str, InlineKeyboardMarkup | None]:
    assert proposal.id is not None
    text = t(
        lang,
        "proposal.card",
        id=proposal.id,
        # The author's name only: an address in the group is for nobody to read.
        author=author.name,
        text=proposal.text,
    )
    buttons = []
    if open_for_seconds:
        buttons.append(
            [
                InlineKeyboardButton(
                    t(lang, "button.second", count=len(proposal.seconds)),
                    callback_data=second_data(signer, proposal.id),
                )
            ]
        )
    return text, keyboard(buttons)


# --- ballots and outcomes --------------------------------------------------


def choice_label(lang: str, ballot: Ballot, choice: str, *, brief: bool = False) -> str:
    """赞成 / 反对 / 弃权, or an option as "选项2：text" (``brief``: just "选项2")."""
    if choice in (c.value for c in Choice):
        return t(lang, f"choice.{choice}")
    for i, option in enumerate(ballot.options, 1):
        if option.key == choice:
            if brief:
                return t(lang, "choice.option_brief", n=i)
            return t(lang, "choice.option", n=i, text=short(option.label, 40))
    return escape(choice)


def _counts(lang: str, ballot: Ballot, outcome: Outcome) -> list[str]:
    head = outcome.tallies[Quantity.HEADCOUNT]
    if ballot.kind is BallotKind.MOTION:
        return [
            t(
                lang,
                "ballot.counts",
                for_=number(head.for_, Quantity.HEADCOUNT),
                against=number(head.against, Quantity.HEADCOUNT),
                abstain=number(head.abstain, Quantity.HEADCOUNT),
            )
        ]
    lines: list[str] = []
    for i, option in enumerate(ballot.options, 1):
        votes = outcome.option_totals.get(option.key, {}).get(Quantity.HEADCOUNT, Fraction(0))
        lines.append(
            t(
                lang,
                "ballot.option_count",
                n=i,
                count=number(votes, Quantity.HEADCOUNT),
            )
        )
    lines.append(t(lang, "ballot.abstain_count", count=number(head.abstain, Quantity.HEADCOUNT)))
    return lines


def check_line(lang: str, check: ConditionCheck) -> str:
    quantity = check.condition.quantity
    return t(
        lang,
        "check.line",
        mark="✔" if check.met else "✘",
        condition=Markup(condition_text(lang, check.condition)),
        value=number(check.value, quantity),
        base=number(check.base, quantity),
        unit=t(lang, f"unit.{quantity.value}", count=check.base),
    )


def ballot_message(
    lang: str, view: BallotView, signer: Signer, app: MiniApp | None = None
) -> tuple[str, InlineKeyboardMarkup | None]:
    """The ballot's message with its live tally and vote buttons; with the web, a
    button opens the ballot's page in the Mini App (``app``), open or closed."""
    ballot, outcome = view.ballot, view.outcome
    assert ballot.id is not None
    lines: list[str] = [
        t(lang, "ballot.title", id=ballot.id, question=ballot.question),
        t(lang, "ballot.rule", rule=Markup(rule_name(lang, ballot.rule))),
        t(lang, "ballot.secret" if ballot.secret else "ballot.open"),
    ]
    if ballot.deadline is not None and ballot.is_open:
        lines.append(
            t(lang, "ballot.deadline", when=moment(lang, ballot.deadline, view.council.timezone))
        )
    if ballot.kind is BallotKind.OPTIONS:
        for i, option in enumerate(ballot.options, 1):
            lines.append(t(lang, "ballot.option", n=i, text=short(option.label, 200)))
    lines.append("")
    lines.extend(_counts(lang, ballot, outcome))
    head = outcome.tallies[Quantity.HEADCOUNT]
    lines.append(
        t(
            lang,
            "ballot.participation",
            participants=number(head.participants, Quantity.HEADCOUNT),
            count=view.roll_size,
        )
    )
    for check in outcome.quorum_checks:
        lines.append(t(lang, "ballot.quorum") + check_line(lang, check))
    # In the order of the buttons, whoever voted first.
    order = ballot.option_keys() or [c.value for c in Choice if c is not Choice.ABSTAIN]
    for choice in [*order, Choice.ABSTAIN.value]:
        if choice not in view.voters:
            continue
        voters = view.voters[choice]
        hidden = voters.total - len(voters.names)
        more = t(lang, "ballot.more", count=hidden) if hidden > 0 else ""
        lines.append(
            t(
                lang,
                "ballot.voters",
                choice=Markup(choice_label(lang, ballot, choice, brief=True)),
                names=joined(lang, voters.names),
            )
            + more
        )
    rows = group_row(app, lang, ballot_start(ballot.id))
    if ballot.is_open:
        lines.append(t(lang, "ballot.how_to_vote"))
        rows = _vote_buttons(lang, ballot, signer) + rows
    else:
        lines.append(_closed_line(lang, ballot))
    return fit("\n".join(lines)), keyboard(rows)


def _vote_buttons(lang: str, ballot: Ballot, signer: Signer) -> list[list[InlineKeyboardButton]]:
    assert ballot.id is not None
    if ballot.kind is BallotKind.MOTION:
        return [
            [
                InlineKeyboardButton(
                    t(lang, f"button.{choice.value}"),
                    callback_data=vote_data(signer, ballot.id, choice.value),
                )
                for choice in Choice
            ]
        ]
    rows = [
        [
            InlineKeyboardButton(
                plain(choice_label(lang, ballot, option.key)),  # buttons are plain text
                callback_data=vote_data(signer, ballot.id, option.key),
            )
        ]
        for option in ballot.options
    ]
    rows.append(
        [
            InlineKeyboardButton(
                t(lang, "button.abstain"),
                callback_data=vote_data(signer, ballot.id, Choice.ABSTAIN.value),
            )
        ]
    )
    return rows


def outcome_message(lang: str, view: BallotView, *, late: bool = False) -> str:
    ballot, outcome = view.ballot, view.outcome
    lines: list[str] = [
        t(lang, "outcome.title", question=ballot.question),
        t(
            lang,
            f"outcome.{outcome.result.value}",
            mark=RESULT_MARK[outcome.result],
        ),
    ]
    if outcome.winner:
        lines.append(
            t(lang, "outcome.winner", option=Markup(choice_label(lang, ballot, outcome.winner)))
        )
    lines.append(t(lang, "ballot.rule", rule=Markup(rule_name(lang, ballot.rule))))
    lines.extend(_counts(lang, ballot, outcome))
    if any(n for source, n in view.sources.items() if source is not VoteSource.CHAT):
        # Votes from the meeting room, on paper and at home visits, beside the chat's.
        counts = {source.value: view.sources.get(source, 0) for source in VoteSource}
        lines.append(t(lang, "outcome.sources", **counts))
    if outcome.quorum_checks:
        lines.append(t(lang, "outcome.quorum_checks"))
        lines.extend(check_line(lang, c) for c in outcome.quorum_checks)
    if outcome.quorum_met:
        lines.append(t(lang, "outcome.pass_checks"))
        lines.extend(check_line(lang, c) for c in outcome.pass_checks)
    if late:
        lines.append(t(lang, "outcome.late"))
    return fit("\n".join(lines))


def fit(text: str) -> str:
    # Names and labels are escaped before they get here, so cutting at a line
    # boundary never splits a tag or an entity.
    if len(text) <= MAX_TEXT:
        return text
    kept = text[:MAX_TEXT].rsplit("\n", 1)[0]
    return kept + "\n…"


# --- times -------------------------------------------------------------------

WEEKDAYS_ZH = "一二三四五六日"


def moment(lang: str, at: datetime, timezone: str) -> str:
    """A time as people read it, in the council's time zone: 12月1日（周一）19:30."""
    local = at.astimezone(zone(timezone))
    if lang == ZH_CN:
        weekday = WEEKDAYS_ZH[local.weekday()]
        return f"{local.month}月{local.day}日（周{weekday}）{local:%H:%M}"
    return local.strftime("%a %d %b %Y, %H:%M").replace(" 0", " ")


def duration(lang: str, minutes: int) -> str:
    """1 天 / 2 小时 / 30 分钟, or 1 day 2 hours: the largest units that fit."""
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    parts = [
        t(lang, f"duration.{unit}", n=n)
        for unit, n in (("days", days), ("hours", hours), ("minutes", mins))
        if n
    ]
    return t(lang, "duration.join").join(parts) if parts else t(lang, "duration.minutes", n=0)


def offsets(lang: str, minutes: Sequence[int]) -> str:
    if not minutes:
        return t(lang, "reminders.none")
    return t(lang, "duration.join_list").join(duration(lang, m) for m in minutes)


def mention(user_id: int, name: str) -> Markup:
    """A name that notifies its owner (Telegram's tg://user link), escaped."""
    return Markup(mention_html(int(user_id), name))


# --- meetings and the agenda ----------------------------------------------------

MAX_AGENDA_BUTTONS = 8


def place_text(lang: str, meeting: Meeting) -> str:
    return t(lang, "meeting.online") if meeting.online else escape(meeting.place)


def agenda_lines(lang: str, view: MeetingView) -> list[str]:
    lines: list[str] = [
        t(lang, "meeting.agenda_topic", n=n, id=topic.id, title=short(topic.title))
        for n, topic in enumerate(view.agenda, 1)
    ]
    first = len(lines) + 1
    lines += [
        t(lang, "meeting.agenda_item", n=n, text=item)
        for n, item in enumerate(view.meeting.items, first)
    ]
    return lines


def meeting_card(
    lang: str, view: MeetingView, signer: Signer
) -> tuple[str, InlineKeyboardMarkup | None]:
    meeting, council = view.meeting, view.council
    assert meeting.id is not None
    lines: list[str] = [
        t(lang, "meeting.card", id=meeting.id, council=council.title),
        t(lang, "meeting.when", when=moment(lang, meeting.starts_at, council.timezone)),
        t(lang, "meeting.where", place=Markup(place_text(lang, meeting))),
        t(lang, "meeting.agenda_title"),
    ]
    lines += agenda_lines(lang, view) or [t(lang, "meeting.no_agenda")]
    if not meeting.is_scheduled:
        lines.append(t(lang, "meeting.cancelled_mark"))
        return fit("\n".join(lines)), None
    if view.open_topics:
        lines.append(t(lang, "meeting.how_to_pick"))
    on = set(meeting.topic_ids)
    rows = [
        [
            InlineKeyboardButton(
                plain(
                    t(
                        lang,
                        "button.agenda_on" if topic.id in on else "button.agenda_off",
                        id=topic.id,
                        title=short(topic.title, 30),
                    )
                ),
                callback_data=agenda_data(signer, meeting.id, topic.id or 0),
            )
        ]
        for topic in view.open_topics[:MAX_AGENDA_BUTTONS]
    ]
    rows.append(
        [
            InlineKeyboardButton(
                t(lang, "button.ics"), callback_data=calendar_data(signer, meeting.id)
            )
        ]
    )
    return fit("\n".join(lines)), keyboard(rows)


def reminder_message(lang: str, view: MeetingView, offset: int) -> str:
    meeting, council = view.meeting, view.council
    lines: list[str] = [
        t(
            lang,
            "reminder.meeting",
            council=council.title,
            when=moment(lang, meeting.starts_at, council.timezone),
            left=duration(lang, offset),
            place=Markup(place_text(lang, meeting)),
        ),
        t(lang, "meeting.agenda_title"),
    ]
    lines += agenda_lines(lang, view) or [t(lang, "meeting.no_agenda_plain")]
    return fit("\n".join(lines))


def agenda_message(lang: str, view: AgendaView) -> str:
    tz = view.council.timezone
    lines: list[str] = [t(lang, "agenda.title", council=view.council.title)]
    if view.meetings:
        for item in view.meetings:
            meeting = item.meeting
            lines.append(
                t(
                    lang,
                    "agenda.meeting_line",
                    id=meeting.id,
                    when=moment(lang, meeting.starts_at, tz),
                    place=Markup(place_text(lang, meeting)),
                    count=len(item.agenda) + len(meeting.items),
                )
            )
            lines += ["    " + line for line in agenda_lines(lang, item)]
    else:
        lines.append(t(lang, "agenda.no_meetings"))
    lines += ["", t(lang, "agenda.topics_title")]
    for topic in view.topics:
        ballot = view.ballots.get(topic.id or 0)
        deadline = ballot.deadline if ballot is not None else topic.deadline
        due = t(lang, "agenda.deadline", when=moment(lang, deadline, tz)) if deadline else ""
        lines.append(
            t(
                lang,
                "agenda.topic_line",
                id=topic.id,
                title=short(topic.title),
                phase=Markup(t(lang, f"phase_name.{topic.phase.value}")),
                deadline=Markup(due),
            )
        )
    if not view.topics:
        lines.append(t(lang, "agenda.no_topics"))
    return fit("\n".join(lines))
