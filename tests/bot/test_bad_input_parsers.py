"""Every parser of what members type, fed random text: only the domain's refusals come back.

Command arguments, deep-link payloads and button data are read by pure functions
(``domain.numbers``, ``domain.when``, ``domain.services.parse_*``, the parsers
in ``bot.telegram.handlers.*`` and ``bot.telegram.buttons``). Here they get digits of
every script ("²", "٣", "５"), numbers far beyond 64 bits, control characters, right-to-left marks,
10,000-character lines. Each either reads the text or raises a ``DomainError`` whose
refusal has a message of its own in both languages and fits in one Telegram message;
no other exception ever escapes, and every id that comes out is a positive 64-bit one.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.cli.tally import InputError, _read_area
from bot.i18n import EN_US, ZH_CN, catalogue, refusal_text
from bot.telegram.buttons import Press, Signer
from bot.telegram.handlers.ballots import parse_ballot_args
from bot.telegram.handlers.meetings import parse_offsets, split_target
from bot.telegram.handlers.tasks import cancel_target, parse_finish, parse_task_args
from domain import errors, services
from domain.numbers import MAX_ID, leading_id, looks_like_id, parse_decimal, parse_id, read_id
from domain.when import find_when, parse_deadline, parse_duration, parse_when

NOW = datetime(2025, 5, 6, 9, 30, tzinfo=UTC)
TZ = "Asia/Shanghai"
MAX_MESSAGE = 4096  # Telegram's limit on a message's text
SIGNER = Signer(b"test-secret")

# Digits that are not 0-9 (superscript, Arabic-Indic, Devanagari, Thai, full-width,
# circled, Roman), the marks and words the parsers look for, and invisible trouble.
ODD_DIGITS = "²³¹⁰₂٣٤۵५๕０５９①Ⅻ〇三"
MARKS = "#＃:：-－/.．年月日号点半时分h d m_ \u3000"
CONTROLS = "\x00\x01\x07\x1b\x7f\u0085\u200b\u200e\u200f\u202a\u202e\u2066\ufeff\n\t\r"
WORDS = [
    *["cancel", "取消", "move", "改期", "until", "截止", "by", "off", "ballot", "options"],
    *["motion", "secret", "open", "simple", "two-thirds", "三分之二", "@someone"],
    *["明天", "后天", "今天", "周五", "星期日", "下午", "晚上", "上午", "中午", "am", "pm"],
    *["12点", "晚上12点", "19:30", "12-01", "2026-12-01", "9999-12-31", "0001-01-01"],
    *["0000-00-00", "2月29日", "48h", "1.5h", "2d", "90m", "3小时", "2天"],
    *["单位:物业公司", "队:畅大妈志愿服务队", "技能:维修", "截止:后天18:00"],
    *["p12_AbCdEfGh", "m3_", "v:1:for:AAAAAAAA", "3-2-301", "3栋2单元301", "85.5㎡"],
    *["1e5", "NaN", "-0", "+1", "1_000"],
]
characters = st.sampled_from(list("0123456789" + ODD_DIGITS + MARKS + CONTROLS + "aZ议"))
numbers = st.integers(min_value=-(10**40), max_value=10**40).map(str)
pieces = st.one_of(
    st.sampled_from(WORDS),
    numbers,
    numbers.map(lambda n: "#" + n),
    st.text(characters, max_size=12),
    st.text(max_size=6),  # anything Unicode has
)
texts = st.one_of(
    st.lists(pieces, max_size=8).map(" ".join),
    st.lists(pieces, max_size=8).map("".join),
    st.tuples(st.sampled_from(["9", "²", "٣", "#1", "x", "\u202e", "明天 "]), pieces).map(
        lambda pair: pair[0] * 10_000 + pair[1]  # a 10,000-character line
    ),
)
word_lists = texts.map(str.split)  # what python-telegram-bot hands a handler as context.args


def only_refusals(parse: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``parse(*args)``: its result, or None after a refusal that reads well in both
    languages; anything else propagates and fails the test."""
    try:
        return parse(*args, **kwargs)
    except errors.DomainError as refusal:
        field = refusal.params.get("field")
        key = f"error.{refusal.code}.{field}" if field else f"error.{refusal.code}"
        assert key in catalogue(ZH_CN), f"{key} has no message of its own"
        for lang in (ZH_CN, EN_US):
            assert len(refusal_text(lang, refusal)) <= MAX_MESSAGE
        return None


def valid_id(value: int | None) -> bool:
    return value is None or 0 < value <= MAX_ID


many = settings(max_examples=300, deadline=None)


@many
@given(texts)
def test_numbers(text: str) -> None:
    assert valid_id(only_refusals(parse_id, text))
    assert valid_id(read_id(text))
    looks_like_id(text)
    found = only_refusals(leading_id, text)
    assert found is None or valid_id(found[0])
    only_refusals(parse_decimal, text, field="area", maximum=services.MAX_AREA)


@many
@given(texts)
def test_times(text: str) -> None:
    only_refusals(parse_when, text, now=NOW, timezone=TZ)
    only_refusals(find_when, text, now=NOW, timezone=TZ)
    only_refusals(parse_deadline, text, now=NOW, timezone=TZ)
    length = parse_duration(text)
    assert length is None or length.total_seconds() > 0


@many
@given(texts)
def test_join(text: str) -> None:
    only_refusals(services.parse_address, text)
    only_refusals(services.parse_area, text)


@many
@given(word_lists)
def test_ballot(words: list[str]) -> None:
    parsed = only_refusals(parse_ballot_args, words)
    if parsed is not None:
        assert all(valid_id(i) for i in parsed.proposal_ids)
        if parsed.deadline:
            only_refusals(parse_deadline, parsed.deadline, now=NOW, timezone=TZ)


@many
@given(word_lists)
def test_meeting_and_reminders(words: list[str]) -> None:
    found = only_refusals(split_target, words)
    if found is not None:
        assert valid_id(found[0])
        only_refusals(parse_when, found[1], now=NOW, timezone=TZ)
    only_refusals(parse_offsets, words)


@many
@given(texts)
def test_task_and_finish(text: str) -> None:
    assert valid_id(only_refusals(cancel_target, text))
    parsed = only_refusals(parse_task_args, text)
    if parsed is not None:
        assert valid_id(parsed.topic_id)
        if parsed.due is not None:
            only_refusals(parse_when, parsed.due, now=NOW, timezone=TZ)
    finished = only_refusals(parse_finish, text)
    assert finished is None or valid_id(finished[0])


@many
@given(texts, st.sampled_from(["p", "m", "x", "", "pm"]))
def test_deep_links_even_when_correctly_signed(text: str, kind: str) -> None:
    """Unsigned payloads are refused, and a payload carrying the right MAC (which the
    bot would never have made for a bad body) is still read safely."""
    assert SIGNER.parse_link(text, "pm") is None  # no MAC: forged
    body = kind + text
    signed = f"{body}_{SIGNER._mac('link:' + body)}"
    link = SIGNER.parse_link(signed, "pm")
    if link is not None:
        assert link[0] in "pm" and valid_id(link[1])
        assert signed == SIGNER.link(*link)


@many
@given(texts, texts, st.sampled_from(["v", "s", "a", "i", "k", "o", "d", "c", ""]))
def test_button_data_even_when_correctly_signed(target: str, arg: str, action: str) -> None:
    assert SIGNER.parse(target) is None
    payload = f"{action}:{target}:{arg}"
    press = SIGNER.parse(f"{payload}:{SIGNER._mac(payload)}")
    if press is not None:
        assert isinstance(press, Press) and valid_id(press.target)


@given(st.integers(min_value=1, max_value=MAX_ID), st.sampled_from("pm"))
def test_every_link_and_button_the_bot_makes_reads_back(target: int, kind: str) -> None:
    assert SIGNER.parse_link(SIGNER.link(kind, target), "pm") == (kind, target)
    assert SIGNER.parse(SIGNER.data("s", target)) == Press("s", target, "")


def test_forged_data_with_non_ascii_characters_is_refused_not_raised() -> None:
    # hmac.compare_digest raises TypeError on a str with non-ASCII characters.
    assert SIGNER.parse("v:1:for:AAAAAAA²") is None
    assert SIGNER.parse("v:1:for:AAAAAAAA \x85") is None
    assert SIGNER.parse_link("p1_AAAAAAA²", "pm") is None


@pytest.mark.parametrize("area", ["1e99999", "٣", "8²", "Infinity", "1_000", "9" * 11])
def test_yishi_tally_refuses_an_odd_area_with_its_line(area: str) -> None:
    # No exponents: "1e999999999" was read exactly, a Fraction of a billion digits.
    with pytest.raises(InputError, match="line 3"):
        _read_area(area, Path("roll.csv"), 3)


def test_yishi_tally_reads_an_area_exactly() -> None:
    units, places = _read_area("89.12345", Path("roll.csv"), 2)
    assert Fraction(units, 10**places) == Fraction(8912345, 100000)
    assert _read_area("８９．５", Path("roll.csv"), 2) == (895, 1)  # tenths


def test_a_due_time_written_apart_from_its_date_stays_with_it() -> None:
    # The help's own example: "截止:12-05 18:00".
    parsed = parse_task_args("铺设地面 单位:城管局 截止:12-05 18:00")
    assert (parsed.title, parsed.unit, parsed.due) == ("铺设地面", "城管局", "12-05 18:00")
    assert parse_task_args("搬器材 截止:后天 晚上8点 队:畅大妈").due == "后天 晚上8点"
    # A number that is no time of day is the title's, as before.
    assert parse_task_args("截止:后天 搬 3 张桌子").title == "搬 3 张桌子"
