"""Reading typed numbers (``domain/numbers.py``): ASCII digits, ids within 64 bits."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain import errors, services
from domain.numbers import (
    MAX_ID,
    fold,
    leading_id,
    looks_like_id,
    parse_decimal,
    parse_id,
    read_id,
    read_index,
)
from domain.services.council import MAX_TYPED_ADDRESS_PART
from domain.when import find_when, parse_deadline, parse_duration, parse_when

NOW = datetime(2025, 5, 6, 9, 30, tzinfo=UTC)
TZ = "Asia/Shanghai"
HUGE = "123456789012345678901234"  # 24 digits: beyond any 64-bit key


def refusal(call: object, *args: object, **kwargs: object) -> errors.InvalidInput:
    assert callable(call)
    with pytest.raises(errors.InvalidInput) as caught:
        call(*args, **kwargs)
    return caught.value


# --- ids ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12", 12),
        ("#12", 12),
        (" #12 ", 12),
        ("＃１２", 12),  # a Chinese input method in full-width mode
        ("007", 7),
        ("1", 1),
        (str(MAX_ID), MAX_ID),
        ("#" + str(MAX_ID), MAX_ID),
        ("0" * 30 + "5", 5),  # leading zeros do not make a number large
    ],
)
def test_an_id_is_read_from_ascii_or_full_width_digits(text: str, expected: int) -> None:
    assert parse_id(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "²",  # superscript two: str.isdigit() says yes, int() fails
        "#²",
        "٣",  # Arabic-Indic three: int() would read 3
        "#۵",  # Extended Arabic-Indic five
        "५",  # Devanagari five
        "①",
        "12a",
        "1.5",
        "-3",
        "+3",
        "1_000",
        "1 2",
        "#",
        "##3",
        "",
        "\u200f12",  # a right-to-left mark before the digits
        "12\x00",
    ],
)
def test_an_id_in_other_digits_or_with_other_characters_is_refused_as_unreadable(
    text: str,
) -> None:
    refused = refusal(parse_id, text)
    assert refused.params == {"field": "id", "value": text.strip()[:30]}


@pytest.mark.parametrize("text", ["0", "#0", "000", HUGE, "#" + HUGE, str(MAX_ID + 1), "9" * 400])
def test_an_id_of_zero_or_beyond_64_bits_is_refused_as_out_of_range(text: str) -> None:
    refused = refusal(parse_id, text)
    assert refused.params == {"field": "id_range", "value": text[:30], "max": MAX_ID}


def test_a_refused_id_is_quoted_short() -> None:
    assert refusal(parse_id, "²" * 10_000).params["value"] == "²" * 30


@given(st.integers(min_value=1, max_value=MAX_ID))
def test_every_id_in_range_round_trips(number: int) -> None:
    assert parse_id(str(number)) == number
    assert parse_id(f"#{number}") == number
    assert read_id(str(number)) == number


@given(st.integers(min_value=MAX_ID + 1, max_value=10**40) | st.integers(max_value=0))
def test_no_number_out_of_range_is_an_id(number: int) -> None:
    assert read_id(str(number)) is None
    with pytest.raises(errors.InvalidInput):
        parse_id(str(number))


@pytest.mark.parametrize("text", ["#3", "3", "٣", "²", "#abc", "＃", "１２"])
def test_what_is_meant_as_an_id(text: str) -> None:
    assert looks_like_id(text)


@pytest.mark.parametrize("text", ["abc", "", "48h", "三", "two-thirds", "3-2-301", "3a"])
def test_what_is_not_meant_as_an_id(text: str) -> None:
    assert not looks_like_id(text)


@pytest.mark.parametrize(
    "text", ["#12", "12", "", "a", "١٢", "0", HUGE, "-1", "012", "１２", " 12"]
)
def test_read_id_is_strict_for_what_the_bot_wrote(text: str) -> None:
    assert read_id(text) == (12 if text == "12" else None)


def test_a_leading_id_is_split_from_a_title() -> None:
    assert leading_id("#3 清运垃圾") == (3, " 清运垃圾")
    assert leading_id("#3清运垃圾") == (3, "清运垃圾")
    assert leading_id("＃３ 清运垃圾") == (3, " 清运垃圾")
    assert leading_id("清运垃圾 #3") == (None, "清运垃圾 #3")
    assert leading_id("#abc 清运") == (None, "#abc 清运")
    assert refusal(leading_id, "#² 清运").params["field"] == "id"
    assert refusal(leading_id, f"#{HUGE} 清运").params["field"] == "id_range"


@pytest.mark.parametrize(
    ("text", "size", "expected"),
    [("0", 8, 0), ("7", 8, 7), ("8", 8, None), ("07", 8, None), ("", 8, None), ("٣", 8, None)],
)
def test_an_index_into_a_shown_list(text: str, size: int, expected: int | None) -> None:
    assert read_index(text, size) == expected
    assert read_index("9" * 10_000, size) is None


# --- amounts --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [("85.5", "85.50"), ("８５．５", "85.50"), (".5", "0.50"), ("5.", "5.00"), ("0", "0.00")],
)
def test_an_amount_in_ascii_or_full_width_digits(text: str, expected: str) -> None:
    assert str(parse_decimal(text, field="area", maximum=Decimal(100))) == expected


@pytest.mark.parametrize(
    "text",
    [
        "٨٥",
        "8²",
        "1e2",
        "1E2",
        "NaN",
        "sNaN",
        "Infinity",
        "-1",
        "+1",
        "1_0",
        "1,5",
        "",
        ".",
        "9" * 50,
    ],
)
def test_an_amount_other_than_digits_and_one_point_is_refused(text: str) -> None:
    refused = refusal(parse_decimal, text, field="area", maximum=Decimal(10**9))
    assert refused.params == {"field": "area", "value": text.strip()[:30]}


def test_an_amount_above_the_maximum_is_refused_and_units_may_follow() -> None:
    assert refusal(parse_decimal, "100.01", field="x", maximum=Decimal(100)).params["field"] == "x"
    assert parse_decimal("80 m²", field="area", maximum=Decimal(100), units=("m²",)) == 80
    assert parse_decimal("1.23456", field="x", maximum=Decimal(2), places=None) == Decimal(
        "1.23456"
    )


def test_fold_keeps_positions() -> None:
    text = "明天　１９：３０　社区活动室"
    assert fold(text) == "明天 19:30 社区活动室"
    assert len(fold(text)) == len(text)


# --- the roll: areas and addresses --------------------------------------------------------


@pytest.mark.parametrize("text", ["٨٥", "85²", "८५.५"])
def test_an_area_in_other_digits_is_refused(text: str) -> None:
    assert refusal(services.parse_area, text).params["field"] == "area"


def test_an_address_part_longer_than_people_write_is_refused() -> None:
    building = "1" * (MAX_TYPED_ADDRESS_PART + 1)
    with pytest.raises(errors.TextTooLong) as caught:
        services.parse_address(f"{building}-2-301")
    assert caught.value.params == {
        "field": "address",
        "limit": MAX_TYPED_ADDRESS_PART,
        "length": MAX_TYPED_ADDRESS_PART + 1,
    }
    longest = "1" * MAX_TYPED_ADDRESS_PART
    assert services.parse_address(f"{longest}-{longest}-{longest}").room == longest


@pytest.mark.parametrize("text", ["²-2-301", "٣-2-301", "3-2-٣٠١"])
def test_an_address_in_other_digits_is_refused(text: str) -> None:
    assert refusal(services.parse_address, text).params["field"] == "address"


# --- times at the calendar's edges ---------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "9999-12-31 晚上12点",  # midnight after the calendar's last day
        "0001-01-01 0:00",  # in Shanghai: before the first moment in UTC
        "0001-01-01 7:59",
    ],
)
def test_a_date_at_the_calendars_edge_is_refused_as_out_of_range(text: str) -> None:
    refused = refusal(parse_when, text, now=NOW, timezone=TZ)
    assert refused.params == {"field": "date_range", "value": text}
    assert refusal(parse_deadline, text, now=NOW, timezone=TZ).params["field"] == "date_range"
    assert refusal(find_when, text, now=NOW, timezone=TZ).params["field"] == "date_range"


def test_the_calendars_last_minute_in_a_western_zone_is_out_of_range() -> None:
    refused = refusal(parse_when, "9999-12-31 23:00", now=NOW, timezone="America/New_York")
    assert refused.params["field"] == "date_range"


def test_a_far_date_within_the_calendar_is_too_far_not_out_of_range() -> None:
    refused = refusal(parse_deadline, "9999-12-30 20:00", now=NOW, timezone=TZ)
    assert refused.params["field"] == "too_far"
    assert refusal(parse_deadline, "0001-01-02 20:00", now=NOW, timezone=TZ).params == {
        "field": "deadline"
    }


@pytest.mark.parametrize("text", ["明天 ١٩:٣٠", "明天 ²0:00", "٣h", "²h", "٢d"])
def test_times_and_lengths_in_other_digits_are_not_read(text: str) -> None:
    assert parse_duration(text) is None
    assert refusal(parse_when, text, now=NOW, timezone=TZ).params["field"] == "when"
