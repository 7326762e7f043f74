"""A chronological, human-readable log of what happened in the emulated chats.

Used by ``yishi demo`` to print a conversation and by failing tests to show context.  Bot
text is already plain (the HTML parser removed tags and unescaped entities).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from emulator.models import ButtonRow

EntryKind = Literal["user", "user_edit", "bot", "edit", "press", "delete", "pin", "error"]


@dataclass
class Entry:
    kind: EntryKind
    chat: str
    actor: str = ""
    text: str = ""
    message_id: int | None = None
    buttons: list[ButtonRow] = field(default_factory=list)
    button_urls: list[list[bool]] = field(default_factory=list)
    #: For presses: the bot's answer, filled in when it arrives.
    answer: str | None = None
    show_alert: bool = False
    answered: bool = False


class Transcript:
    def __init__(self, bot_name: str) -> None:
        self.bot_name = bot_name
        self.entries: list[Entry] = []

    def add(self, entry: Entry) -> Entry:
        self.entries.append(entry)
        return entry

    def clear(self) -> None:
        self.entries.clear()

    def render(self, chat: str | None = None) -> str:
        """The transcript as text; ``chat`` restricts it to one chat label."""
        lines: list[str] = []
        for entry in self.entries:
            if chat is None or entry.chat == chat:
                lines.extend(self.render_entry(entry))
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.render()

    def render_entry(self, e: Entry) -> list[str]:
        where = f"[{e.chat}]"
        if e.kind == "user":
            return _block(f"{where} {e.actor}: ", e.text)
        if e.kind == "user_edit":
            return _block(f"{where} {e.actor} (edited #{e.message_id}): ", e.text)
        if e.kind in ("bot", "edit"):
            head = (
                f"{where} 🤖 {self.bot_name} #{e.message_id}: "
                if e.kind == "bot"
                else f"{where} 🤖 (edited #{e.message_id}): "
            )
            return _block(head, e.text) + _buttons(e.buttons, e.button_urls)
        if e.kind == "press":
            line = f"  ✋ {e.actor} pressed 「{e.text}」 on #{e.message_id}"
            if e.answered:
                alert = "⚠ alert " if e.show_alert else ""
                line += f' → {alert}"{e.answer}"' if e.answer else " → (answered silently)"
            else:
                line += " → (no answer)"
            return [line]
        if e.kind == "delete":
            return [f"{where} 🗑 deleted #{e.message_id}"]
        if e.kind == "pin":
            return [f"{where} 📌 pinned #{e.message_id}"]
        return [f"{where} ⛔ {e.text}"]


def _block(head: str, text: str) -> list[str]:
    first, *rest = text.split("\n") or [""]
    return [head + first, *("    " + line for line in rest)]


def _buttons(rows: list[ButtonRow], urls: list[list[bool]]) -> list[str]:
    lines = []
    for r, row in enumerate(rows):
        cells = []
        for c, (text, _data) in enumerate(row):
            is_url = r < len(urls) and c < len(urls[r]) and urls[r][c]
            cells.append(f"[{text} ↗]" if is_url else f"[{text}]")
        prefix = "  ↳ buttons: " if r == 0 else "             "
        lines.append(prefix + " ".join(cells))
    return lines
