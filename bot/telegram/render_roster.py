"""Texts and buttons of the roll file: the council picker, the dry-run diff with its
confirm and cancel buttons, and what confirming wrote."""

from __future__ import annotations

from collections.abc import Sequence

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.i18n import Markup, t
from bot.telegram.buttons import Signer
from bot.telegram.render import MAX_TEXT, keyboard
from domain.model import Council
from domain.services.roster import Applied, Checked
from domain.services.roster_file import Change, Op, Plan, RowError

SHOWN = 10  # names (or rows in error) listed per part of the diff; the rest are counted

# Button actions: pick the council for a file (the file is the message the picker
# replies to), pick the council to export, confirm or cancel a checked import.
PICK_IMPORT = "rc"
PICK_EXPORT = "rx"
DECIDE = "ri"


def council_picker(
    lang: str, councils: Sequence[Council], action: str, signer: Signer
) -> tuple[str, InlineKeyboardMarkup | None]:
    rows = [
        [InlineKeyboardButton(c.title, callback_data=signer.data(action, c.id or 0))]
        for c in councils
    ]
    key = "roster.pick_import" if action == PICK_IMPORT else "roster.pick_export"
    return t(lang, key), keyboard(rows)


def diff_messages(
    lang: str, checked: Checked, file_name: str, signer: Signer
) -> list[tuple[str, InlineKeyboardMarkup | None]]:
    """The diff, in as many messages as it takes; the buttons under the last."""
    plan = checked.plan
    head = t(
        lang,
        "roster.title",
        file=file_name,
        council=checked.council.title,
        rows=t(lang, "roster.rows", count=plan.rows),
    )
    lines: list[str] = [*_changes(lang, plan), *_errors(lang, plan.errors)]
    if plan.unchanged or checked.import_id is None:
        lines.append(t(lang, "roster.unchanged", count=plan.unchanged))
    if plan.guarded:
        lines.append(t(lang, "roster.guarded", count=plan.guarded))
    if checked.import_id is None:
        lines.append(t(lang, "roster.nothing"))
        markup = None
    else:
        lines.append(t(lang, "roster.confirm_note"))
        markup = keyboard(
            [
                [
                    InlineKeyboardButton(
                        t(lang, "button.roster_apply"),
                        callback_data=signer.data(DECIDE, checked.import_id, "y"),
                    ),
                    InlineKeyboardButton(
                        t(lang, "button.roster_cancel"),
                        callback_data=signer.data(DECIDE, checked.import_id, "n"),
                    ),
                ]
            ]
        )
    pages = _pages(head, lines)
    return [(page, markup if n == len(pages) else None) for n, page in enumerate(pages, 1)]


def _changes(lang: str, plan: Plan) -> list[str]:
    lines: list[str] = []
    for op in Op:
        found = plan.of(op)
        if not found:
            continue
        lines.append(t(lang, f"roster.{op.value}", count=len(found)))
        lines += [_change(lang, c) for c in found[:SHOWN]]
        if len(found) > SHOWN:
            lines.append(t(lang, "roster.more_people", count=len(found) - SHOWN))
    return lines


def _change(lang: str, change: Change) -> str:
    if change.op is Op.ADD:
        assert change.entry is not None
        flats = len(change.entry.flats)
        what = t(lang, "roster.owns", count=flats) if flats else t(lang, "roster.resident")
    elif change.op is Op.UPDATE:
        words = Markup(t(lang, "roster.comma")).join(_what(lang, w) for w in change.what)
        what = t(lang, "roster.changes", what=words)
    else:
        what = Markup("")
    return t(lang, "roster.line", name=change.name, household=change.household, what=what)


def _what(lang: str, word: str) -> Markup:
    """One thing an update changes; an area with its figures ("area:85.50:92.00")."""
    key, _, figures = word.partition(":")
    if key == "area" and figures:
        before, _, after = figures.partition(":")
        return t(lang, "roster.what.area_from_to", before=before, after=after)
    return t(lang, f"roster.what.{key}")


def _errors(lang: str, found: Sequence[RowError]) -> list[str]:
    if not found:
        return []
    lines: list[str] = [t(lang, "roster.errors", count=len({e.row for e in found}))]
    for error in found[:SHOWN]:
        lines.append(t(lang, "roster.error_line", row=error.row, why=row_error(lang, error)))
    if len(found) > SHOWN:
        lines.append(t(lang, "roster.more_errors", count=len(found) - SHOWN))
    return lines


def row_error(lang: str, error: RowError) -> Markup:
    params = dict(error.params)
    if error.code == "area_conflict":
        params["areas"] = Markup(t(lang, "roster.comma")).join(
            t(lang, "roster.row_area", row=row, area=area) for row, area in params["areas"]
        )
    return t(lang, f"roster.error.{error.code}", **params)


def applied_text(lang: str, applied: Applied) -> str:
    plan = applied.plan
    key = "roster.applied_before" if applied.before else "roster.applied"
    return t(
        lang,
        key,
        council=applied.council.title,
        added=len(plan.of(Op.ADD)),
        changed=len(plan.of(Op.UPDATE)),
        removed=len(plan.of(Op.REMOVE)),
    )


def _pages(head: str, lines: Sequence[str]) -> list[str]:
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
