"""Binding codes end to end: the real bot, the local Bot API emulator.

Staff ask for the cards privately and get a PDF; a resident opens a card's QR link
(``/start <code>``) and is bound to the roll entry it names; the same code again, a
second entry's code for a bound account, and guessing are refused clearly, and the
refusals write nothing but the attempt.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import time_machine

from bot.telegram.local import LocalBot
from domain.model import Member
from emulator import Message, User
from tests.bot.conftest import (
    Council,
    assert_clean,
    latest_update_id,
    make_council,
    redeliver,
    say,
    send,
)
from tests.bot.test_dispatch_e2e import council_id_of
from tests.cli.test_cards import ReadCard, read_cards

GROUP = "杨家园社区小院议事会"
NOT_STAFF = "⛔ 只有召集人和社工（网格员）可以这样做。"
ROSTER = (("王淑珍", "5", "1", "101"), ("赵德胜", "5", "1", "102"), ("刘玉梅", "5", "2", "201"))


async def roster(council: Council) -> list[int]:
    """Roll entries without an account, as an imported roster leaves them."""
    council_id = await council_id_of(council)
    now = council.local.deps.clock()
    ids = []
    async with council.local.database.uow() as uow:
        for name, building, unit, room in ROSTER:
            member = await uow.members.add(
                Member(council_id, None, name, building, unit, room, joined_at=now)
            )
            assert member.id is not None
            ids.append(member.id)
        await uow.commit()
    return ids


async def cards_of(council: Council, staff: User, tmp_path: Path, text: str = "/cards") -> Message:
    """``staff`` sends ``text`` privately; the PDF document the bot sends back."""
    replies = await send(council.emu, staff, staff, text)
    documents = [m for m in replies if m.document is not None]
    assert len(documents) == 1, [m.text for m in replies]
    return documents[0]


def pdf_cards(council: Council, document: Message, tmp_path: Path) -> list[ReadCard]:
    assert document.document is not None
    files = council.emu._engine.world.files
    name, _mime, data = files[document.document["file_id"]]
    assert name.endswith(".pdf") and data.startswith(b"%PDF")
    path = tmp_path / name
    path.write_bytes(data)
    return read_cards(path)


def payload(card: ReadCard, council: Council) -> str:
    prefix = f"https://t.me/{council.emu.bot_username}?start="
    assert card.link.startswith(prefix), card.link
    return card.link.removeprefix(prefix)


async def user_of(council: Council, member_id: int) -> int | None:
    async with council.local.database.uow() as uow:
        member = await uow.members.get(member_id)
        assert member is not None
        return member.user_id


async def attempts_of(council: Council, user: User) -> int:
    async with council.local.database.uow() as uow:
        since = council.local.deps.clock() - timedelta(days=1)
        return len(await uow.binding_codes.failures_since(user.id, since))


async def test_staff_print_cards_and_a_resident_binds_by_the_qr_code(
    local: LocalBot, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    council = await make_council(local, residents=("张阿姨",))
    emu, chair = council.emu, council.chair
    (aunt,) = council.members
    wang, zhao, liu = await roster(council)

    # Only chairs and staff, and only privately.
    assert (await say(emu, aunt, aunt, "/cards")).text == NOT_STAFF
    assert (await council.say(chair, "/cards")).text == "⛔ 请在与我的私聊中使用这个命令。"

    document = await cards_of(council, chair, tmp_path)
    caption = document.caption or ""
    assert caption.startswith(f"🖨 {GROUP}：3 张绑定卡，有效期至 "), caption
    assert caption.endswith("请用 A4 纸打印（每页 8 张），沿虚线裁开，入户交给卡上的本人。")
    cards = pdf_cards(council, document, tmp_path)
    assert [card.text.split("\n")[2:4] for card in cards] == [
        ["5-1-101", "王淑珍"],
        ["5-1-102", "赵德胜"],
        ["5-2-201", "刘玉梅"],
    ]
    # The update delivered again issues no second set of codes (which would end these).
    assert await redeliver(emu, latest_update_id(emu)) == []

    # 王淑珍 scans her card: Telegram sends /start with its code.
    resident = emu.add_user("王淑珍", language_code="zh-hans")
    bound = await say(emu, resident, resident, f"/start {payload(cards[0], council)}")
    assert bound.text == (
        f"✅ 绑定成功！您的账号已加入{GROUP}的名册：王淑珍，5-1-101。"
        "请在议事会的群里参加议事和表决。"
    )
    assert await user_of(council, wang) == resident.id

    # The same code again, by anyone: used.
    code = payload(cards[0], council)
    neighbour = emu.add_user("邻居", language_code="zh-hans")
    used = await say(emu, neighbour, neighbour, f"/start {code}")
    assert used.text == f"⛔ 绑定码 {code} 已经用过，不能再用。如果不是您本人用的，请联系社工。"
    # Her account is on the roll now: another card's code is refused, and stays usable.
    second = await say(emu, resident, resident, f"/start {payload(cards[1], council)}")
    assert second.text == (
        f"⛔ 您的账号已在{GROUP}的名册上（王淑珍），不能再绑定另一条。"
        "如需更正，请联系召集人或社工。"
    )
    assert await user_of(council, zhao) is None

    # 赵德胜 types his code by hand, in lower case with spaces.
    typed = payload(cards[1], council).lower().replace("-", " ")
    zhao_user = emu.add_user("赵德胜", language_code="zh-hans")
    assert ((await say(emu, zhao_user, zhao_user, f"/start {typed}")).text or "").startswith(
        "✅ 绑定成功"
    )
    assert await user_of(council, zhao) == zhao_user.id

    # A new card for 刘玉梅 ends her first one.
    reprint = await cards_of(council, chair, tmp_path, "/cards 5-2-201")
    assert "1 张绑定卡" in (reprint.caption or "")
    assert (reprint.caption or "").endswith("这些居民此前未使用的 1 张旧卡已作废。")
    (new_card,) = pdf_cards(council, reprint, tmp_path)
    liu_user = emu.add_user("刘玉梅", language_code="zh-hans")
    old = payload(cards[2], council)
    assert (await say(emu, liu_user, liu_user, f"/start {old}")).text == (
        f"⛔ 绑定码 {old} 已过期，或已被新打印的卡取代。请找社工重新打印一张。"
    )
    assert await user_of(council, liu) is None
    await say(emu, liu_user, liu_user, f"/start {payload(new_card, council)}")
    assert await user_of(council, liu) == liu_user.id

    # Everyone is bound now: nothing left to print.
    assert (await say(emu, chair, chair, "/cards")).text == (
        "⛔ 名册上的居民都已绑定账号，没有要打印的绑定卡。导入名册后再来打印。"
    )
    # The bot's own signed links still work as before.
    assert (await say(emu, aunt, aunt, "/start p5")).text == (
        "⛔ 这个链接已失效，或不是给您的。请从群里的卡片重新打开。"
    )
    assert_clean(emu, caplog)


async def test_guessing_codes_is_refused_after_five_wrong_ones(
    local: LocalBot,
    traveller: time_machine.Traveller,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    council = await make_council(local, residents=("张阿姨",))
    emu, chair = council.emu, council.chair
    (wang, *_rest) = await roster(council)
    cards = pdf_cards(council, await cards_of(council, chair, tmp_path), tmp_path)
    right = payload(cards[0], council)

    guesser = emu.add_user("路人乙", language_code="zh-hans")
    for n in range(5):
        wrong = f"ABCD-EFGH-JK{'MNPQR'[n]}{'MNPQR'[n]}"
        reply = await say(emu, guesser, guesser, f"/start {wrong}")
        assert reply.text == f"⛔ 没有这个绑定码（{wrong}）。请核对卡片；卡片丢失请找社工重新打印。"
    malformed = await say(emu, guesser, guesser, "/start ABCD-EFGH-JK0")
    assert malformed.text == ("⛔ 绑定码输错的次数太多了。为防止有人猜码，请 60 分钟后再试。"), (
        "the sixth attempt is refused unread, even malformed"
    )
    # Even the right code is refused now, and writes only the attempt.
    limited = await say(emu, guesser, guesser, f"/start {right}")
    assert limited.text == "⛔ 绑定码输错的次数太多了。为防止有人猜码，请 60 分钟后再试。"
    assert await user_of(council, wang) is None
    assert await attempts_of(council, guesser) == 7

    # An hour after the fifth failure, the account may try again.
    traveller.shift(timedelta(minutes=61))
    bound = await say(emu, guesser, guesser, f"/start {right}")
    assert (bound.text or "").startswith("✅ 绑定成功！"), bound.text
    assert await user_of(council, wang) == guesser.id
    assert_clean(emu, caplog)
