"""Texts and buttons of roles and of keeping the roll: a roll entry as chairs and staff
see it (privately), its approve / reject / verify buttons, the council's roles."""

from __future__ import annotations

from decimal import Decimal

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.i18n import Markup, joined, t
from bot.telegram.buttons import Signer
from bot.telegram.render import keyboard, mention
from domain.model import Council, Member, MemberStatus

# What the buttons under a roll entry do ("j" presses): approve, reject, verify the flat.
APPROVE, REJECT, VERIFY = "y", "n", "f"


def area(value: Decimal) -> str:
    return f"{value:.2f}"


def entry_text(lang: str, council: Council, member: Member) -> Markup:
    """A member's roll entry with address, flats and phone: only ever sent privately."""
    lines = [
        t(lang, "entry.head", council=council.title, id=member.id, name=member.name),
        t(lang, "entry.address", household=member.household),
    ]
    lines += [
        t(
            lang,
            "entry.flat_verified" if flat.verified else "entry.flat_unverified",
            household=flat.household,
            area=area(flat.area),
        )
        for flat in member.flats
    ]
    if not member.flats:
        lines.append(t(lang, "entry.no_flat"))
    if member.phone:
        lines.append(t(lang, "entry.phone", phone=member.phone))
    if not member.voting:
        lines.append(t(lang, "entry.participant"))
    lines.append(t(lang, f"entry.status.{member.status.value}"))
    return Markup("\n").join(lines)


def entry_keyboard(lang: str, member: Member, signer: Signer) -> InlineKeyboardMarkup | None:
    """Approve and reject while the join waits; verify while a flat is unverified."""
    assert member.id is not None
    row: list[InlineKeyboardButton] = []
    if member.status is MemberStatus.PENDING:
        row.append(_button(lang, "button.approve", member.id, APPROVE, signer))
        row.append(_button(lang, "button.reject", member.id, REJECT, signer))
    if member.status is not MemberStatus.REMOVED and any(not f.verified for f in member.flats):
        row.append(_button(lang, "button.verify", member.id, VERIFY, signer))
    return keyboard([row] if row else [])


def _button(lang: str, key: str, member_id: int, arg: str, signer: Signer) -> InlineKeyboardButton:
    return InlineKeyboardButton(t(lang, key), callback_data=signer.data("j", member_id, arg))


def roles_message(
    lang: str,
    council: Council,
    names: dict[int, str],
    participants: list[Member],
) -> Markup:
    """Chairs, staff and participants by name (a mention for chairs and staff)."""

    def people(user_ids: set[int]) -> Markup:
        found = [mention(u, names.get(u) or str(u)) for u in sorted(user_ids)]
        return Markup(joined(lang, found)) if found else t(lang, "roles.nobody")

    lines = [
        t(lang, "roles.head", council=council.title),
        t(lang, "roles.chairs", names=people(council.chairs)),
        t(lang, "roles.staff", names=people(council.staff)),
        t(
            lang,
            "roles.participants",
            names=Markup(joined(lang, [Markup.escape(m.name) for m in participants]))
            if participants
            else t(lang, "roles.nobody"),
        ),
        t(lang, "roles.usage"),
    ]
    return Markup("\n").join(lines)


def settings_message(lang: str, council: Council) -> Markup:
    return Markup("\n").join(
        [
            t(lang, "settings.head", council=council.title),
            t(lang, "settings.self_join." + ("on" if council.self_join else "off")),
            t(lang, "settings.approval." + ("on" if council.require_approval else "off")),
            t(lang, "settings.usage"),
        ]
    )
