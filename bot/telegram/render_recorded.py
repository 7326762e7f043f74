"""Texts and keyboards of votes from the meeting room and the doorstep: the sign-in
card, the roll call and attendance lists (private, paged), a paper upload's dry run,
and the private notice of a recorded vote."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.i18n import Markup, escape, joined, t
from bot.telegram.buttons import Signer
from bot.telegram.mini_app import MiniApp, ballot_start, private_row
from bot.telegram.render import choice_label, fit, keyboard, moment, place_text, plain, short
from domain.model import Ballot, BallotKind, Vote, VoteSource
from domain.rules import Choice
from domain.services.recorded import (
    MAX_ERRORS_SHOWN,
    PaperApplied,
    PaperCheck,
    RollCall,
    RollCallMember,
)
from domain.services.sign_in import AttendancePage, SignInView

NAMES_SHOWN = 40  # names on a sign-in card; the rest are counted

# Button actions, each "q" and a letter (``Signer.data``): check in, attendance page,
# toggle present, close sign-in, roll-call page, roll-call member, record a raised
# hand, a member's own vote from a private notice, confirm or cancel paper.
CHECK_IN, ATTENDANCE, TOGGLE, CLOSE = "qi", "qa", "qt", "qx"
PAGE, MEMBER, RECORD, OWN_VOTE = "qp", "qm", "qr", "qw"
PAPER_CONFIRM, PAPER_CANCEL = "qc", "qn"


def _choices(ballot: Ballot) -> list[str]:
    if ballot.kind is BallotKind.MOTION:
        return [c.value for c in Choice]
    return [*(o.key for o in ballot.options), Choice.ABSTAIN.value]


def vote_text(lang: str, ballot: Ballot, vote: Vote | None) -> str:
    """赞成（现场举手）, or 未表决."""
    if vote is None:
        return t(lang, "recorded.no_vote")
    return t(
        lang,
        "recorded.vote",
        choice=Markup(choice_label(lang, ballot, vote.choice, brief=True)),
        source=t(lang, f"source.{vote.source.value}"),
    )


# --- sign-in ---------------------------------------------------------------------------


def sign_in_card(
    lang: str, view: SignInView, signer: Signer
) -> tuple[str, InlineKeyboardMarkup | None]:
    meeting, council, sign_in = view.meeting, view.council, view.sign_in
    names = joined(lang, [escape(m.name) for m in view.present[:NAMES_SHOWN]])
    hidden = len(view.present) - NAMES_SHOWN
    if hidden > 0:
        names += t(lang, "ballot.more", count=hidden)
    lines = [
        t(lang, "signin.card", id=meeting.id, council=council.title),
        t(
            lang,
            "signin.when",
            when=moment(lang, meeting.starts_at, council.timezone),
            place=Markup(place_text(lang, meeting)),
        ),
        t(
            lang,
            "signin.count" if sign_in.is_open else "signin.closed",
            present=len(view.present),
            count=view.roll_size,
        ),
    ]
    if names:
        lines.append(Markup(names))
    if not sign_in.is_open:
        return fit("\n".join(lines)), None
    lines.append(t(lang, "signin.how"))
    target = meeting.id or 0
    rows = [
        [
            InlineKeyboardButton(
                t(lang, "button.check_in"), callback_data=signer.data(CHECK_IN, target)
            )
        ],
        [
            InlineKeyboardButton(
                t(lang, "button.mark_present"), callback_data=signer.data(ATTENDANCE, target, "0")
            ),
            InlineKeyboardButton(
                t(lang, "button.close_sign_in"), callback_data=signer.data(CLOSE, target)
            ),
        ],
    ]
    return fit("\n".join(lines)), keyboard(rows)


def _nav(
    lang: str, signer: Signer, action: str, target: int, page: int, pages: int
) -> list[InlineKeyboardButton]:
    row = []
    if page > 0:
        row.append(
            InlineKeyboardButton(
                t(lang, "button.previous"), callback_data=signer.data(action, target, str(page - 1))
            )
        )
    if page + 1 < pages:
        row.append(
            InlineKeyboardButton(
                t(lang, "button.next"), callback_data=signer.data(action, target, str(page + 1))
            )
        )
    return row


def attendance_message(
    lang: str, view: AttendancePage, signer: Signer
) -> tuple[str, InlineKeyboardMarkup | None]:
    meeting = view.view.meeting
    assert meeting.id is not None
    text = "\n".join(
        [
            t(lang, "attendance.title", id=meeting.id, council=view.view.council.title),
            t(
                lang,
                "signin.count",
                present=len(view.view.present),
                count=view.view.roll_size,
            ),
            t(lang, "attendance.how"),
            t(lang, "recorded.page", page=view.page + 1, pages=view.pages),
        ]
    )
    rows = [
        [
            InlineKeyboardButton(
                plain(
                    t(
                        lang,
                        "button.present" if m.id in view.present else "button.absent",
                        name=m.name,
                        household=m.household,
                    )
                ),
                callback_data=signer.data(TOGGLE, meeting.id, f"{m.id}.{view.page}"),
            )
        ]
        for m in view.members
    ]
    nav = _nav(lang, signer, ATTENDANCE, meeting.id, view.page, view.pages)
    if nav:
        rows.append(nav)
    return fit(text), keyboard(rows)


# --- the roll call ----------------------------------------------------------------------


def roll_call_message(
    lang: str, view: RollCall, signer: Signer
) -> tuple[str, InlineKeyboardMarkup | None]:
    ballot = view.ballot
    assert ballot.id is not None
    lines = [
        t(lang, "rollcall.title", id=ballot.id, question=short(ballot.question)),
        t(lang, "rollcall.present", count=view.present)
        if view.present
        else t(lang, "rollcall.no_sign_in"),
        t(lang, "rollcall.how"),
        t(lang, "recorded.page", page=view.page + 1, pages=view.pages),
    ]
    rows = [
        [
            InlineKeyboardButton(
                plain(
                    t(
                        lang,
                        "button.rollcall_member",
                        mark="📍" if line.present else "",
                        name=line.member.name,
                        vote=Markup(vote_text(lang, ballot, line.vote)),
                    )
                ),
                callback_data=signer.data(MEMBER, ballot.id, f"{line.member.id}.{view.page}"),
            )
        ]
        for line in view.lines
    ]
    nav = _nav(lang, signer, PAGE, ballot.id, view.page, view.pages)
    if nav:
        rows.append(nav)
    return fit("\n".join(lines)), keyboard(rows)


def roll_call_member_message(
    lang: str, view: RollCallMember, page: int, signer: Signer
) -> tuple[str, InlineKeyboardMarkup | None]:
    ballot, member = view.ballot, view.member
    assert ballot.id is not None and member.id is not None
    lines = [
        t(lang, "rollcall.member", name=member.name, household=member.household),
        t(lang, "rollcall.ballot", id=ballot.id, question=short(ballot.question)),
        t(lang, "rollcall.current", vote=Markup(vote_text(lang, ballot, view.vote))),
        t(lang, "rollcall.pick"),
        t(
            lang,
            "rollcall.assist_hint"
            if ballot.kind is BallotKind.MOTION
            else "rollcall.assist_hint_options",
            member=member.id,
        ),
    ]
    rows = [
        [
            InlineKeyboardButton(
                plain(choice_label(lang, ballot, choice)),
                callback_data=signer.data(RECORD, ballot.id, f"{member.id}.{choice}.{page}"),
            )
        ]
        for choice in _choices(ballot)
    ]
    rows.append(
        [
            InlineKeyboardButton(
                t(lang, "button.back"), callback_data=signer.data(PAGE, ballot.id, str(page))
            )
        ]
    )
    return fit("\n".join(lines)), keyboard(rows)


# --- paper ballots ----------------------------------------------------------------------


def paper_check_message(
    lang: str, check: PaperCheck, signer: Signer
) -> tuple[str, InlineKeyboardMarkup | None]:
    ballot = check.ballot
    upload_id = check.upload.id
    assert ballot.id is not None and upload_id is not None
    totals: dict[str, int] = {}
    for entry in check.votes:
        totals[str(entry["choice"])] = totals.get(str(entry["choice"]), 0) + 1
    counted = "，".join(
        f"{plain(choice_label(lang, ballot, c, brief=True))} {n}" for c, n in totals.items()
    )
    lines = [
        t(lang, "paper.title", id=ballot.id, question=short(ballot.question)),
        t(lang, "paper.file", name=check.upload.file_name),
        t(lang, "paper.votes", count=len(check.votes), totals=counted or "—"),
    ]
    if check.same:
        lines.append(t(lang, "paper.same", count=len(check.same)))
    if check.kept:
        lines.append(t(lang, "paper.kept", count=len(check.kept)))
        lines += [
            t(
                lang,
                "paper.kept_line",
                row=e["row"],
                name=str(e.get("name", "")),
                source=t(lang, f"source.{e.get('source', 'chat')}"),
            )
            for e in check.kept[:MAX_ERRORS_SHOWN]
        ]
    if check.errors:
        lines.append(t(lang, "paper.errors", count=len(check.errors)))
        lines += [
            t(
                lang,
                "paper.error_line",
                row=e["row"],
                why=t(lang, f"paper.why.{e['reason']}", value=str(e.get("value", ""))),
            )
            for e in check.errors[:MAX_ERRORS_SHOWN]
        ]
        if len(check.errors) > MAX_ERRORS_SHOWN:
            lines.append(t(lang, "topic.more", count=len(check.errors) - MAX_ERRORS_SHOWN))
    if not check.votes:
        lines.append(t(lang, "paper.nothing"))
        return fit("\n".join(lines)), keyboard(
            [
                [
                    InlineKeyboardButton(
                        t(lang, "button.paper_cancel"),
                        callback_data=signer.data(PAPER_CANCEL, upload_id),
                    )
                ]
            ]
        )
    lines.append(t(lang, "paper.confirm"))
    rows = [
        [
            InlineKeyboardButton(
                t(lang, "button.paper_confirm", count=len(check.votes)),
                callback_data=signer.data(PAPER_CONFIRM, upload_id),
            ),
            InlineKeyboardButton(
                t(lang, "button.paper_cancel"), callback_data=signer.data(PAPER_CANCEL, upload_id)
            ),
        ]
    ]
    return fit("\n".join(lines)), keyboard(rows)


def paper_applied_message(lang: str, applied: PaperApplied) -> str:
    ballot = applied.ballot
    lines = [
        t(lang, "paper.applied", id=ballot.id, question=short(ballot.question)),
        t(lang, "paper.applied_count", count=applied.recorded),
    ]
    if applied.unchanged:
        lines.append(t(lang, "paper.applied_same", count=applied.unchanged))
    if applied.kept:
        lines.append(t(lang, "paper.applied_kept", count=applied.kept))
    if applied.refused:
        lines.append(t(lang, "paper.applied_refused", count=applied.refused))
    return "\n".join(lines)


# --- the member's notice ----------------------------------------------------------------


def recorded_notice(
    lang: str,
    ballot: Ballot,
    vote: Vote | None,
    role: str,
    signer: Signer,
    app: MiniApp | None = None,
) -> tuple[str, InlineKeyboardMarkup | None]:
    """To the member: who recorded what, and buttons to change it until the close
    (with the web over HTTPS, one opening the ballot's page as a Mini App too)."""
    assert ballot.id is not None
    own = vote is None or vote.source is VoteSource.CHAT  # the member changed it since
    text = t(
        lang,
        "recorded.notice_own" if own else "recorded.notice",
        role=t(lang, f"recorded.role.{role}"),
        question=ballot.question,
        vote=Markup(vote_text(lang, ballot, vote)),
    )
    rows = [
        [
            InlineKeyboardButton(
                plain(choice_label(lang, ballot, choice)),
                callback_data=signer.data(OWN_VOTE, ballot.id, choice),
            )
        ]
        for choice in _choices(ballot)
    ]
    rows += private_row(app, lang, ballot_start(ballot.id))
    return text + "\n" + t(lang, "recorded.change"), keyboard(rows)
