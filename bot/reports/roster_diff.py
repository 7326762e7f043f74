"""The words of a roll file's dry-run diff and of what confirming wrote, as every
front end shows them: the chat (``bot.telegram.render_roster``, with its buttons) and
the web console (``bot.web.console.roll``)."""

from __future__ import annotations

from collections.abc import Sequence

from bot.i18n import Markup, t
from domain.services.roster import Applied, Checked
from domain.services.roster_file import Change, Op, Plan, RowError

SHOWN = 10  # names (or rows in error) listed per part of the diff; the rest are counted


def diff_head(lang: str, checked: Checked, file_name: str) -> Markup:
    return t(
        lang,
        "roster.title",
        file=file_name,
        council=checked.council.title,
        rows=t(lang, "roster.rows", count=checked.plan.rows),
    )


def diff_lines(lang: str, checked: Checked, *, shown: int = SHOWN) -> list[Markup]:
    """The diff below its head: each kind of change with its first ``shown`` names,
    the rows in error, what stays, and what the confirm button does (or that there is
    nothing to confirm)."""
    plan = checked.plan
    lines: list[Markup] = [*_changes(lang, plan, shown), *_errors(lang, plan.errors, shown)]
    if plan.unchanged or checked.import_id is None:
        lines.append(t(lang, "roster.unchanged", count=plan.unchanged))
    if plan.guarded:
        lines.append(t(lang, "roster.guarded", count=plan.guarded))
    if checked.import_id is None:
        lines.append(t(lang, "roster.nothing"))
    else:
        lines.append(t(lang, "roster.confirm_note"))
    return lines


def _changes(lang: str, plan: Plan, shown: int) -> list[Markup]:
    lines: list[Markup] = []
    for op in Op:
        found = plan.of(op)
        if not found:
            continue
        lines.append(t(lang, f"roster.{op.value}", count=len(found)))
        lines += [change_line(lang, c) for c in found[:shown]]
        if len(found) > shown:
            lines.append(t(lang, "roster.more_people", count=len(found) - shown))
    return lines


def change_line(lang: str, change: Change) -> Markup:
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


def _errors(lang: str, found: Sequence[RowError], shown: int) -> list[Markup]:
    if not found:
        return []
    lines: list[Markup] = [t(lang, "roster.errors", count=len({e.row for e in found}))]
    for error in found[:shown]:
        lines.append(t(lang, "roster.error_line", row=error.row, why=row_error(lang, error)))
    if len(found) > shown:
        lines.append(t(lang, "roster.more_errors", count=len(found) - shown))
    return lines


def row_error(lang: str, error: RowError) -> Markup:
    params = dict(error.params)
    if error.code == "area_conflict":
        params["areas"] = Markup(t(lang, "roster.comma")).join(
            t(lang, "roster.row_area", row=row, area=area) for row, area in params["areas"]
        )
    return t(lang, f"roster.error.{error.code}", **params)


def applied_text(lang: str, applied: Applied) -> Markup:
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
