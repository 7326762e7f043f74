"""Bad numbers get a clear answer, end to end, on SQLite and on PostgreSQL.

Numbers in other scripts ("²", "٣"), ids beyond 64 bits, dates at the calendar's
edges, a building name longer than the roll's column and malformed deep links used
to reach the database or the calendar and crash the handler ("处理时出了问题"). Each
now gets a refusal that says what is expected, in the member's language, and nothing
is logged as a failure.
"""

from __future__ import annotations

import pytest
import time_machine

from bot.telegram.local import LocalBot
from tests.bot.conftest import (
    INTERNAL_ERRORS,
    RESIDENTS,
    assert_clean,
    button,
    current_votes,
    make_council,
    press,
    say,
)

HUGE = "123456789012345678901234"  # 24 digits: no 64-bit key is this large
MAX_ID = "9223372036854775807"


def unreadable(value: str) -> str:
    return f"⛔ 没看懂编号「{value}」。编号是正整数，请用数字 0–9 书写，例如 #12。"


def out_of_range(value: str) -> str:
    return (
        f"⛔ 编号「{value}」超出范围：编号是 1 到 {MAX_ID} 之间的整数。"
        "请写消息上显示的编号，例如 #12。"
    )


def date_out_of_range(value: str) -> str:
    return f"⛔ 日期「{value}」超出了日历的范围。请写近期的日期，例如 12-01 19:30。"


BAD_LINK = "⛔ 这个链接已失效，或不是给您的。请从群里的卡片重新打开。"
LONG_BUILDING = "1" * 70
ADDRESS_TOO_LONG = (
    "⛔ 地址太长：楼栋、单元、房号每项最多 8 个字符（这里有 70 个）。例如 /join 3-2-301。"
)

# (who, where, what they type, what the bot answers); "chair", "member", "outsider";
# "group" or "private" (the person's private chat with the bot).
CASES = [
    ("chair", "group", "/ballot #²", unreadable("#²")),
    ("chair", "group", "/ballot ٣", unreadable("٣")),
    ("member", "group", "/finish ² 2h", unreadable("²")),
    ("member", "group", f"/finish #{HUGE}", out_of_range(f"#{HUGE}")),
    ("chair", "group", f"/task cancel {HUGE}", out_of_range(HUGE)),
    ("chair", "group", f"/task #{HUGE} 清运垃圾 单位:物业公司", out_of_range(f"#{HUGE}")),
    ("chair", "group", f"/meeting cancel #{HUGE}", out_of_range(f"#{HUGE}")),
    ("chair", "group", f"/meeting move #{HUGE} 明天 19:30", out_of_range(f"#{HUGE}")),
    ("chair", "group", "/deadline 9999-12-31 晚上12点", date_out_of_range("9999-12-31 晚上12点")),
    ("chair", "group", "/deadline 0001-01-01 0:00", date_out_of_range("0001-01-01 0:00")),
    (
        "chair",
        "group",
        "/meeting 9999-12-31 晚上12点 社区活动室",
        date_out_of_range("9999-12-31 晚上12点"),
    ),
    ("outsider", "group", f"/join {LONG_BUILDING}-2-301", ADDRESS_TOO_LONG),
    ("member", "private", f"/start p{HUGE}", BAD_LINK),
    ("member", "private", f"/start p{HUGE}_AAAAAAAA", BAD_LINK),
    ("member", "private", "/start m²", BAD_LINK),
    ("member", "private", "/start p٣_AAAAAAAA", BAD_LINK),
    ("member", "private", "/start p1_AAAAAAA²", BAD_LINK),  # once a TypeError in hmac
]


@pytest.mark.parametrize(
    ("who", "where", "text", "expected"), CASES, ids=[case[2][:40] for case in CASES]
)
async def test_a_bad_number_gets_a_clear_refusal(
    local: LocalBot,
    caplog: pytest.LogCaptureFixture,
    who: str,
    where: str,
    text: str,
    expected: str,
) -> None:
    council = await make_council(local, residents=RESIDENTS[:1])
    await council.topic()
    user = {"chair": council.chair, "member": council.members[0], "outsider": council.outsider}[who]
    if where == "group":
        reply = await council.say(user, text)
    else:
        reply = await say(council.emu, user, user, text)
    assert reply.text == expected
    assert not any(marker in reply.text for marker in INTERNAL_ERRORS)
    assert_clean(council.emu, caplog)


async def test_the_refusals_are_in_english_for_an_english_speaker(
    local: LocalBot, caplog: pytest.LogCaptureFixture
) -> None:
    council = await make_council(local, residents=RESIDENTS[:1], language_code="en")
    chair = council.chair
    assert (await council.say(chair, "/ballot #²")).text == (
        "⛔ Cannot read the number “#²”. Numbers are whole and positive, "
        "written with the digits 0–9, e.g. #12."
    )
    assert (await council.say(chair, f"/task cancel {HUGE}")).text == (
        f"⛔ The number “{HUGE}” is out of range: numbers run from 1 to {MAX_ID}. "
        "Use the number shown on the message, e.g. #12."
    )
    assert (await council.say(chair, "/deadline 0001-01-01 0:00")).text == (
        "⛔ The date “0001-01-01 0:00” is out of range. "
        "Give a date in the near future, e.g. 12-01 19:30."
    )
    assert (await council.say(council.outsider, f"/join {LONG_BUILDING}-2-301")).text == (
        "⛔ That address is too long: building, unit and room may have at most 8 "
        "characters each (this one has 70). For example /join 3-2-301."
    )
    assert_clean(council.emu, caplog)


async def test_after_the_refusals_the_numbers_written_right_still_work(
    traveller: time_machine.Traveller, local: LocalBot, caplog: pytest.LogCaptureFixture
) -> None:
    """Full-width digits, as a Chinese input method types them, are the digits 0-9."""
    council = await make_council(local, residents=RESIDENTS[:1])
    await council.topic()
    refused = await council.say(council.chair, "/deadline 9999-12-31 晚上12点")
    assert refused.text == date_out_of_range("9999-12-31 晚上12点")
    # Asked between 19:30 and 19:45, the day-before reminder is due at once and follows
    # the card: look for the card among the replies.
    replies = await council.send(council.chair, "/meeting 明天 19:30 社区活动室")
    assert any("#1" in (m.text or "") and "📅" in (m.text or "") for m in replies), replies
    cancelled = await council.say(council.chair, "/meeting cancel ＃１")
    assert cancelled.text is not None and cancelled.text.startswith("🚫"), cancelled.text
    joined = await council.say(council.outsider, "/join ３－２－３０９ ８５．５")
    assert joined.text is not None and joined.text.startswith("✅"), joined.text
    assert_clean(council.emu, caplog)


async def test_forged_button_data_with_odd_characters_or_huge_ids_is_stale(
    local: LocalBot, caplog: pytest.LogCaptureFixture
) -> None:
    """Button data is signed, but what a client sends back is read safely all the same."""
    council = await make_council(local, residents=RESIDENTS[:1])
    emu = council.emu
    await council.topic()
    ballot, ballot_id = await council.ballot()
    action, target, choice, mac = button(ballot, "赞成").split(":")
    stale = "⛔ 这个按钮已失效，请使用最新的消息。"
    for forged in (
        f"{action}:{target}:{choice}:AAAAAAA²",  # non-ASCII: hmac.compare_digest raised
        f"{action}:{target}:{choice}:{mac}\u200f",
        f"{action}:²:{choice}:{mac}",
        f"{action}:{HUGE}:{choice}:{mac}",
        f"{action}:٣:{choice}:{mac}",
        "\x00:\x00:\x00:\x00",
    ):
        answer = await press(emu, council.members[0], ballot, forged, forge=True)
        assert answer.show_alert and answer.text == stale, (forged, answer.text)
    assert await current_votes(local, ballot_id) == {}
    assert_clean(emu, caplog)
