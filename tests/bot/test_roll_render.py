"""The detailed roll (chairs and staff, in private) shows what the count rests on: each
member's flats, verified or waiting, participants, phones; its head gives the figures
the owners' rules use (verified flats' area once, owners as the law counts them)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from bot.i18n import EN_US, ZH_CN
from bot.telegram.render import roll_messages
from domain.model import Council, Flat, Member
from domain.rules import preset
from domain.services import RollView

NOW = datetime(2026, 12, 3, tzinfo=UTC)


def _member(
    i: int, name: str, home: str, *flats: Flat, voting: bool = True, phone: str = ""
) -> Member:
    building, unit, room = home.split("-")
    return Member(
        council_id=1,
        user_id=8000 + i,
        name=name,
        building=building,
        unit=unit,
        room=room,
        joined_at=NOW,
        id=i,
        flats=flats,
        voting=voting,
        phone=phone or None,
    )


VIEW = RollView(
    council=Council(
        1, 0, "杨家园社区小院议事会", preset("owners-ordinary"), "Asia/Shanghai", "zh-CN", NOW
    ),
    members=[
        _member(
            1, "张阿姨", "3-2-301", Flat("3-2-301", Decimal("85.50"), True), phone="13800000001"
        ),
        _member(
            2,
            "张叔叔",
            "3-2-301",
            Flat("3-2-301", Decimal("85.50"), True),
            Flat("3-2-302", Decimal("60.00"), True),
        ),
        _member(3, "李叔叔", "5-1-101", Flat("5-1-101", Decimal("90.00"), False)),
        _member(4, "物业联系人", "1-1-1", voting=False),
    ],
    pending=[],
)


def test_the_detailed_roll_shows_flats_roles_and_phones() -> None:
    head, *lines = roll_messages(ZH_CN, VIEW, detailed=True)[0].splitlines()
    # 张阿姨 and 张叔叔 co-own 3-2-301, and he owns 3-2-302: one owner, 145.50 m².
    # The participant is listed but not counted.
    assert head == (
        "📋 <b>杨家园社区小院议事会</b> 名册：3 人，2 户；业主 1 人，已核实专有部分面积 145.50 ㎡"
    )
    assert lines == [
        "⏳ 另有 1 套住户自报的面积待社工核实，核实前不计入业主表决。",
        "1. 张阿姨 #1 · 3-2-301 · 85.50 ㎡ · ☎ 13800000001",
        "2. 张叔叔 #2 · 3-2-301 · 85.50 ㎡ · 3-2-302 60.00 ㎡",
        "3. 李叔叔 #3 · 5-1-101 · 90.00 ㎡（待核实）",
        "4. 物业联系人 #4 · 1-1-1（列席，不计入表决）",
    ]


def test_the_group_s_roll_shows_names_and_counts_only() -> None:
    text = roll_messages(EN_US, VIEW)[0]
    assert "13800000001" not in text and "3-2-301" not in text and "m²" not in text


def test_a_keeper_of_several_rolls_picks_one_by_a_signed_button() -> None:
    from bot.telegram.buttons import Signer
    from bot.telegram.render import roll_picker

    signer = Signer(b"secret")
    other = Council(2, 0, "幸福里社区议事会", preset("simple"), "Asia/Shanghai", "zh-CN", NOW, id=2)
    first = Council(
        1, 0, "杨家园社区小院议事会", preset("simple"), "Asia/Shanghai", "zh-CN", NOW, id=1
    )
    markup = roll_picker([first, other], signer)
    assert markup is not None
    pressed = [
        (row[0].text, signer.parse(str(row[0].callback_data))) for row in markup.inline_keyboard
    ]
    assert [(text, p.action, p.target) for text, p in pressed if p] == [
        ("杨家园社区小院议事会", "r", 1),
        ("幸福里社区议事会", "r", 2),
    ]
