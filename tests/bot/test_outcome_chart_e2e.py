"""The outcome of a ballot is posted in the group as its result chart, the outcome's
text as the caption: one message, end to end through the Bot API emulator, on SQLite
and PostgreSQL. A chart that cannot be drawn leaves the outcome a text, logged."""

from __future__ import annotations

import io
import logging

import pytest
from PIL import Image

from bot.telegram.local import LocalBot, local_bot
from bot.telegram.notices import NoticeRenderer
from emulator import Message
from tests.bot.conftest import (
    assert_clean,
    bot_messages,
    button,
    make_council,
    outcome_caption,
    press,
    shown,
)

RESIDENT_NAMES = ["杨静", "张阿姨", "李叔叔", "刘大姐", "陈师傅"]  # make_council's, chair first


def photo_of(local: LocalBot, message: Message) -> Image.Image:
    """The picture the bot uploaded, as the emulator stored it."""
    assert message.photo, message
    _name, _mime, data = local.emulator._engine.world.files[message.photo[-1]["file_id"]]
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


async def test_the_outcome_is_the_result_chart_with_the_outcome_as_caption(
    local: LocalBot, caplog: pytest.LogCaptureFixture
) -> None:
    council = await make_council(local)
    emu, chair = council.emu, council.chair
    await council.topic("物业费调整")
    ballot, _ = await council.ballot("secret")
    aunt, uncle, sister, master = council.members
    await press(emu, aunt, ballot, button(ballot, "赞成"))
    await press(emu, uncle, ballot, button(ballot, "反对"))
    await press(emu, sister, ballot, button(ballot, "赞成"))
    await press(emu, master, ballot, button(ballot, "弃权"))
    before = len(bot_messages(emu, council.group))

    outcome = await council.say(chair, "/close")
    said = outcome_caption(outcome)  # a photo, with a caption
    lines = said.splitlines()
    assert lines[:2] == ["📣 表决结果：物业费调整", "✅ 通过"], said
    assert "赞成 2 · 反对 1 · 弃权 1" in lines, said
    assert outcome.reply_to_message_id == ballot.message_id
    # Announced once: the chart is the outcome message, no text beside it; a secret
    # ballot's caption names nobody.
    new = bot_messages(emu, council.group)[before:]
    assert [m.message_id for m in new if "表决结果" in shown(m)] == [outcome.message_id]
    assert not any(name in said for name in RESIDENT_NAMES), said
    # The caption is what /result says of the closed ballot: the whole outcome, not a cut.
    result = await council.say(aunt, "/result")
    assert result.text == said
    # The picture: a PNG of 800 x 500 with the passed colour (the 赞成 bar) in it.
    image = photo_of(local, outcome)
    assert (image.format, image.size) == ("PNG", (800, 500))
    colours = {colour for _count, colour in image.convert("RGB").getcolors(800 * 500) or []}
    assert (0x2E, 0x7D, 0x32) in colours and (0xC6, 0x28, 0x28) in colours  # 赞成, 反对
    assert_clean(emu, caplog)


async def test_a_chart_that_cannot_be_drawn_leaves_the_outcome_a_text(
    migrated_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    # A font that is not there (YISHI_CARDS_FONT set wrong): the chart cannot be drawn.
    async with local_bot(migrated_url, cards_font="/nonexistent/font.ttc") as local:
        council = await make_council(local)
        emu, chair = council.emu, council.chair
        await council.topic("楼道堆物清理")
        ballot, _ = await council.ballot()
        await press(emu, council.members[0], ballot, button(ballot, "赞成"))
        with caplog.at_level(logging.WARNING, logger="bot.telegram.notices"):
            outcome = await council.say(chair, "/close")
        assert outcome.photo is None and outcome.text is not None
        assert outcome.text.splitlines()[:2] == ["📣 表决结果：楼道堆物清理", "✅ 通过"]
        assert outcome.reply_to_message_id == ballot.message_id
        logged = [r for r in caplog.records if "could not draw the result chart" in r.message]
        assert logged and "YISHI_CARDS_FONT" in str(
            logged[0].exc_info[1] if logged[0].exc_info else ""
        )
        texts = [shown(m) for m in bot_messages(emu, council.group) if "表决结果" in shown(m)]
        assert len(texts) == 1, texts


async def test_an_outcome_too_long_for_a_caption_is_a_text_and_the_chart_its_reply(
    local: LocalBot, caplog: pytest.LogCaptureFixture
) -> None:
    # Telegram's captions hold 1,024 characters; no everyday outcome is that long, so
    # the limit is lowered here to take the path such an outcome takes.
    renderer = local.deps.outbox._render
    assert isinstance(renderer, NoticeRenderer)
    renderer.caption_limit = 40
    council = await make_council(local)
    emu, chair = council.emu, council.chair
    await council.topic("楼道堆物清理")
    ballot, _ = await council.ballot()
    await press(emu, council.members[0], ballot, button(ballot, "赞成"))
    before = len(bot_messages(emu, council.group))
    await council.send(chair, "/close")
    await emu.wait_idle(quiet=0.3)
    new = bot_messages(emu, council.group)[before:]
    outcomes = [m for m in new if "表决结果" in shown(m)]
    assert len(outcomes) == 1, [shown(m) for m in new]
    (outcome,) = outcomes
    assert outcome.photo is None and outcome.text is not None
    assert outcome.text.splitlines()[:2] == ["📣 表决结果：楼道堆物清理", "✅ 通过"]
    assert outcome.reply_to_message_id == ballot.message_id
    # The chart follows, a photo without a caption, in reply to the outcome.
    (chart,) = [m for m in new if m.photo]
    assert chart.caption is None and chart.reply_to_message_id == outcome.message_id
    assert chart.message_id > outcome.message_id
    assert photo_of(local, chart).size == (800, 500)
    assert_clean(emu, caplog)
