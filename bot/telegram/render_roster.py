"""Texts and buttons of the roll file: the council picker, the dry-run diff with its
confirm and cancel buttons, and what confirming wrote."""

from __future__ import annotations

from collections.abc import Sequence

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.i18n import t
from bot.reports import roster_diff
from bot.telegram.buttons import Signer
from bot.telegram.render import MAX_TEXT, keyboard
from domain.model import Council
from domain.services.roster import Applied, Checked

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
    head = roster_diff.diff_head(lang, checked, file_name)
    lines = roster_diff.diff_lines(lang, checked)
    markup = None
    if checked.import_id is not None:
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


def applied_text(lang: str, applied: Applied) -> str:
    return roster_diff.applied_text(lang, applied)


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
