"""A proposal made on the residents' page is posted in the group with its second
button, as /propose posts one, and a second given on the page shows on the proposal's
message in the group: chat users second what web users propose, and the other way."""

from __future__ import annotations

import httpx

from bot.telegram.local import LocalBot
from tests.bot.conftest import bot_messages, buttons, make_council, press, text_of
from tests.web.test_resident import key_path, post, roll_entry, sign_in


async def test_a_web_proposal_is_posted_in_the_group_and_seconds_travel_both_ways(
    web_local: LocalBot, http: httpx.AsyncClient
) -> None:
    council = await make_council(web_local)
    emu = web_local.emulator
    aunt, uncle = council.members[0], council.members[1]
    _card, topic_id = await council.topic("楼下空地做什么？")
    aunts_message = await council.say(aunt, "/propose 建一个小花园")
    await sign_in(
        web_local,
        http,
        await key_path(web_local, council, await roll_entry(web_local, 1, uncle.id)),
    )

    shown = await http.get(f"/r/t/{topic_id}")
    made = await post(web_local, http, f"/r/t/{topic_id}/propose", shown.text, text="装几张长椅")
    assert made.status_code == 303
    await emu.wait_idle()
    posted = [
        m
        for m in bot_messages(emu, council.group)
        if "装几张长椅" in text_of(emu, m) and not text_of(emu, m).startswith("📌")  # the card
    ]
    assert len(posted) == 1, [text_of(emu, m) for m in bot_messages(emu, council.group)]
    announcement = posted[0]
    assert "李叔叔" in text_of(emu, announcement)
    (label, data), *_ = buttons(announcement)
    assert "附议" in label
    # 张阿姨 seconds it in the chat, with the button the web's proposal got.
    await press(emu, aunt, announcement, data)
    async with web_local.database.uow() as uow:
        mine = [p for p in await uow.proposals.for_topic(topic_id) if p.text == "装几张长椅"]
    assert len(mine) == 1 and len(mine[0].seconds) == 1
    assert mine[0].message_ref == announcement.message_id

    # 李叔叔 seconds 张阿姨's proposal on the page: her message in the group shows it.
    async with web_local.database.uow() as uow:
        hers = next(p for p in await uow.proposals.for_topic(topic_id) if p.text == "建一个小花园")
    before = buttons(
        next(m for m in bot_messages(emu, council.group) if m.message_id == hers.message_ref)
    )
    shown = await http.get(f"/r/t/{topic_id}")
    seconded = await post(web_local, http, f"/r/p/{hers.id}/second", shown.text)
    assert seconded.status_code == 303
    await emu.wait_idle()
    now = next(m for m in emu.messages(council.group) if m.message_id == hers.message_ref)
    assert buttons(now) != before and "1" in buttons(now)[0][0], buttons(now)
    assert aunts_message is not None
