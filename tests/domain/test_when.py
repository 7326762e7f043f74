"""Reading typed times (``domain/when.py``) in a council's time zone.

``NOW`` is Tuesday 2025-05-06 09:30 UTC, which is 17:30 in Asia/Shanghai
(UTC+8, no daylight saving): every expected result is written in UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain import errors
from domain.when import (
    MAX_AHEAD,
    find_when,
    parse_deadline,
    parse_duration,
    parse_when,
    require_future,
    zone,
)

NOW = datetime(2025, 5, 6, 9, 30, tzinfo=UTC)  # Tue 17:30 in Shanghai
TZ = "Asia/Shanghai"


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def when(text: str, *, now: datetime = NOW, timezone: str = TZ) -> datetime:
    return parse_when(text, now=now, timezone=timezone)


def refused(text: str, *, now: datetime = NOW) -> errors.InvalidInput:
    with pytest.raises(errors.InvalidInput) as caught:
        parse_when(text, now=now, timezone=TZ)
    return caught.value


# --- every accepted format ---------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # relative days
        ("明天 19:30", utc(2025, 5, 7, 11, 30)),
        ("明日 19:30", utc(2025, 5, 7, 11, 30)),
        ("明天19:30", utc(2025, 5, 7, 11, 30)),
        ("tomorrow 19:30", utc(2025, 5, 7, 11, 30)),
        ("Tomorrow 19:30", utc(2025, 5, 7, 11, 30)),
        ("TOMORROW 19:30", utc(2025, 5, 7, 11, 30)),
        ("今天 19:30", utc(2025, 5, 6, 11, 30)),
        ("今日 20:00", utc(2025, 5, 6, 12, 0)),
        ("today 20:00", utc(2025, 5, 6, 12, 0)),
        ("后天 8:00", utc(2025, 5, 8, 0, 0)),
        # month and day, this year
        ("12月1日 下午3点", utc(2025, 12, 1, 7, 0)),
        ("12月1号 15:00", utc(2025, 12, 1, 7, 0)),
        ("12月1日15:00", utc(2025, 12, 1, 7, 0)),
        ("12-01 20:00", utc(2025, 12, 1, 12, 0)),
        ("12/1 19:30", utc(2025, 12, 1, 11, 30)),
        ("12.1 19:30", utc(2025, 12, 1, 11, 30)),
        # with a year
        ("2026-12-01 19:30", utc(2026, 12, 1, 11, 30)),
        ("2026/12/01 19:30", utc(2026, 12, 1, 11, 30)),
        ("2026.12.1 19:30", utc(2026, 12, 1, 11, 30)),
        ("2026年12月1日 19:30", utc(2026, 12, 1, 11, 30)),
        # weekdays (NOW is a Tuesday)
        ("周五 19:30", utc(2025, 5, 9, 11, 30)),
        ("星期五 19:30", utc(2025, 5, 9, 11, 30)),
        ("礼拜五 19:30", utc(2025, 5, 9, 11, 30)),
        ("周5 19:30", utc(2025, 5, 9, 11, 30)),
        ("周一 9:00", utc(2025, 5, 12, 1, 0)),
        ("周1 9:00", utc(2025, 5, 12, 1, 0)),
        ("周日 10:00", utc(2025, 5, 11, 2, 0)),
        ("周天 10:00", utc(2025, 5, 11, 2, 0)),
        ("星期天 10:00", utc(2025, 5, 11, 2, 0)),
        ("周7 10:00", utc(2025, 5, 11, 2, 0)),
        ("周三 下午3点", utc(2025, 5, 7, 7, 0)),
        # a bare time: the next time the clock shows it
        ("19:30", utc(2025, 5, 6, 11, 30)),
        ("8点", utc(2025, 5, 7, 0, 0)),
        ("3点5分", utc(2025, 5, 6, 19, 5)),
        ("20点15", utc(2025, 5, 6, 12, 15)),
        ("21时", utc(2025, 5, 6, 13, 0)),
    ],
)
def test_every_accepted_format(text: str, expected: datetime) -> None:
    at = when(text)
    assert at == expected
    assert at.tzinfo is UTC


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("１９：３０", utc(2025, 5, 6, 11, 30)),
        ("明天　１９：３０", utc(2025, 5, 7, 11, 30)),
        ("１２月１日　下午３点", utc(2025, 12, 1, 7, 0)),
        ("２０２６－１２－０１　１９：３０", utc(2026, 12, 1, 11, 30)),
        ("周５ １９：３０", utc(2025, 5, 9, 11, 30)),
        ("  明天 19:30  ", utc(2025, 5, 7, 11, 30)),
    ],
)
def test_full_width_digits_colons_and_spaces_are_read(text: str, expected: datetime) -> None:
    assert when(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("上午9点", utc(2025, 5, 7, 1, 0)),  # 09:00 has passed today: tomorrow
        ("早上8点半", utc(2025, 5, 7, 0, 30)),
        ("上午11:15", utc(2025, 5, 7, 3, 15)),
        ("中午12点", utc(2025, 5, 7, 4, 0)),
        ("中午1点", utc(2025, 5, 7, 5, 0)),
        ("中午12点半", utc(2025, 5, 7, 4, 30)),
        ("下午3点", utc(2025, 5, 7, 7, 0)),
        ("下午3时", utc(2025, 5, 7, 7, 0)),
        ("下午15点", utc(2025, 5, 7, 7, 0)),  # already 24-hour: kept
        ("下午12点", utc(2025, 5, 7, 4, 0)),  # 12 in the afternoon is noon
        ("傍晚6点", utc(2025, 5, 6, 10, 0)),
        ("晚上8点", utc(2025, 5, 6, 12, 0)),
        ("晚上8点半", utc(2025, 5, 6, 12, 30)),
        ("晚上8点15分", utc(2025, 5, 6, 12, 15)),
        ("晚上 11点", utc(2025, 5, 6, 15, 0)),
        ("晚上7:30", utc(2025, 5, 6, 11, 30)),
        ("明天晚上7点", utc(2025, 5, 7, 11, 0)),
        ("明天 上午10点", utc(2025, 5, 7, 2, 0)),
    ],
)
def test_parts_of_the_day(text: str, expected: datetime) -> None:
    assert when(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("7:30 pm", utc(2025, 5, 6, 11, 30)),
        ("7:30pm", utc(2025, 5, 6, 11, 30)),
        ("7:30 PM", utc(2025, 5, 6, 11, 30)),
        ("明天 7:30 pm", utc(2025, 5, 7, 11, 30)),
        ("12:00 pm", utc(2025, 5, 7, 4, 0)),  # noon
        ("9:00 am", utc(2025, 5, 7, 1, 0)),
        ("12:30 am", utc(2025, 5, 6, 16, 30)),  # 00:30 tomorrow, local
        ("19:00 pm", utc(2025, 5, 6, 11, 0)),  # already 24-hour: kept
        ("下午3点 pm", utc(2025, 5, 7, 7, 0)),  # said twice, added once
    ],
)
def test_am_and_pm(text: str, expected: datetime) -> None:
    assert when(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("7pm", utc(2025, 5, 6, 11, 0)),
        ("7 pm", utc(2025, 5, 6, 11, 0)),
        ("7PM", utc(2025, 5, 6, 11, 0)),
        ("明天 7pm", utc(2025, 5, 7, 11, 0)),
        ("7am", utc(2025, 5, 6, 23, 0)),  # 07:00 tomorrow, local
        ("12pm", utc(2025, 5, 7, 4, 0)),  # noon
        ("12am", utc(2025, 5, 6, 16, 0)),  # the coming midnight
    ],
)
def test_an_hour_with_am_or_pm_alone_is_read(text: str, expected: datetime) -> None:
    assert when(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Said at 17:30 local: the coming midnight, 00:00 on May 7 local.
        ("晚上12点", utc(2025, 5, 6, 16, 0)),
        ("今天 晚上12点", utc(2025, 5, 6, 16, 0)),  # the end of this evening
        ("周二 晚上12点", utc(2025, 5, 6, 16, 0)),  # today is Tuesday: tonight
        ("晚上12点半", utc(2025, 5, 6, 16, 30)),
        # The end of tomorrow evening: 00:00 on May 8 local.
        ("明天 晚上12点", utc(2025, 5, 7, 16, 0)),
        ("5月7日 晚上12点", utc(2025, 5, 7, 16, 0)),
    ],
)
def test_twelve_in_the_evening_is_midnight(text: str, expected: datetime) -> None:
    assert when(text) == expected


# --- what "next" means -------------------------------------------------------


def test_a_bare_time_earlier_than_now_means_tomorrow() -> None:
    assert when("17:00") == utc(2025, 5, 7, 9, 0)
    assert when("09:00") == utc(2025, 5, 7, 1, 0)


def test_a_bare_time_equal_to_now_means_tomorrow() -> None:
    assert when("17:30") == utc(2025, 5, 7, 9, 30)


def test_a_bare_time_later_today_means_today() -> None:
    assert when("17:31") == utc(2025, 5, 6, 9, 31)


def test_a_date_without_year_already_passed_means_next_year() -> None:
    assert when("1月1日 10:00") == utc(2026, 1, 1, 2, 0)
    assert when("5月5日 10:00") == utc(2026, 5, 5, 2, 0)  # yesterday
    assert when("05-05 10:00") == utc(2026, 5, 5, 2, 0)


def test_a_date_without_year_still_to_come_means_this_year() -> None:
    assert when("5月7日 10:00") == utc(2025, 5, 7, 2, 0)
    assert when("5月6日 20:00") == utc(2025, 5, 6, 12, 0)  # today, later


def test_a_date_with_a_year_is_never_moved() -> None:
    # In the past: returned as typed, for require_future to refuse.
    assert when("2024-01-01 10:00") == utc(2024, 1, 1, 2, 0)


def test_a_weekday_today_but_passed_means_next_week() -> None:
    assert when("周二 17:00") == utc(2025, 5, 13, 9, 0)
    assert when("周二 17:30") == utc(2025, 5, 13, 9, 30)  # this very moment: next week


def test_a_weekday_today_later_means_today() -> None:
    assert when("周二 18:00") == utc(2025, 5, 6, 10, 0)
    assert when("星期二 晚上8点") == utc(2025, 5, 6, 12, 0)


def test_days_are_counted_in_the_councils_zone_not_in_utc() -> None:
    # 17:00 UTC on May 6 is already 01:00 on Wednesday May 7 in Shanghai.
    late = utc(2025, 5, 6, 17, 0)
    assert when("今天 9:00", now=late) == utc(2025, 5, 7, 1, 0)
    assert when("明天 9:00", now=late) == utc(2025, 5, 8, 1, 0)
    assert when("8:00", now=late) == utc(2025, 5, 7, 0, 0)
    assert when("周三 9:00", now=late) == utc(2025, 5, 7, 1, 0)
    assert when("周二 9:00", now=late) == utc(2025, 5, 13, 1, 0)


def test_other_time_zones() -> None:
    assert when("明天 19:30", timezone="UTC") == utc(2025, 5, 7, 19, 30)
    # New York is on daylight time (UTC-4) in May and on standard time (UTC-5) in December.
    assert when("明天 19:30", timezone="America/New_York") == utc(2025, 5, 7, 23, 30)
    assert when("2025-12-01 19:30", timezone="America/New_York") == utc(2025, 12, 2, 0, 30)


def test_a_now_in_another_zone_is_the_same_moment() -> None:
    shanghai_now = NOW.astimezone(zone(TZ))
    assert when("明天 19:30", now=shanghai_now) == utc(2025, 5, 7, 11, 30)


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (utc(2027, 3, 1), utc(2028, 2, 29, 2, 0)),  # the year before a leap year
        (NOW, utc(2028, 2, 29, 2, 0)),  # 2025 and 2026 are not leap years
        (utc(2028, 1, 1), utc(2028, 2, 29, 2, 0)),  # a leap year, still to come
        (utc(2028, 2, 29, 3, 0), utc(2028, 2, 29, 2, 0)),  # that day, the time passed
        (utc(2028, 3, 1), utc(2032, 2, 29, 2, 0)),  # just passed: the next one
    ],
)
def test_february_29th_without_a_year_means_the_next_one(now: datetime, expected: datetime) -> None:
    assert when("2月29日 10:00", now=now) == expected


def test_february_29th_of_a_leap_year_is_read() -> None:
    assert when("2028-02-29 10:00") == utc(2028, 2, 29, 2, 0)


# --- refusals ----------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "garbage",
        "明天",
        "12月1日",
        "2026-12-01",
        "19",
        "周八 10:00",
        "下周五 10:00",
        "社区活动室 明天 19:30",
        "明天 19:30 社区活动室",  # parse_when reads the whole text
        "19:30:00",
        "1930",
        "7pmx",  # am/pm is a whole word
        "10:00 amy",
    ],
)
def test_unreadable_text_is_refused_with_field_when(text: str) -> None:
    error = refused(text)
    assert error.code == "invalid_input"
    assert error.params["field"] == "when"
    assert error.params["value"] == text[:40]


def test_the_refused_text_is_echoed_at_most_40_characters() -> None:
    text = "x" * 100
    assert refused(text).params["value"] == "x" * 40


@pytest.mark.parametrize(
    "text",
    [
        "2月30日 10:00",
        "2025-02-29 10:00",
        "2027-02-29 10:00",  # with a year it is never moved to the next leap year
        "4月31日 10:00",
        "13月1日 10:00",
        "0月1日 10:00",
        "12月0日 10:00",
        "12月32日 10:00",
    ],
)
def test_invalid_dates_are_refused(text: str) -> None:
    error = refused(text)
    assert error.params == {"field": "when", "value": text}


@pytest.mark.parametrize(
    "text",
    ["25:00", "24:00", "19:60", "99:99", "明天 25:00", "3点60分", "下午25点"],
)
def test_invalid_clock_times_are_refused(text: str) -> None:
    error = refused(text)
    assert error.params["field"] == "when"


def test_an_unknown_time_zone_is_refused_with_field_timezone() -> None:
    with pytest.raises(errors.InvalidInput) as caught:
        parse_when("明天 19:30", now=NOW, timezone="Mars/Olympus_Mons")
    assert caught.value.params == {"field": "timezone", "value": "Mars/Olympus_Mons"}
    with pytest.raises(errors.InvalidInput):
        zone("")


# --- find_when: a time at the start, then something else ---------------------


def test_find_when_says_where_the_time_ended_so_the_rest_is_the_place() -> None:
    found = find_when("明天 19:30 社区活动室", now=NOW, timezone=TZ)
    assert found is not None
    assert found.at == utc(2025, 5, 7, 11, 30)
    assert found.text[: found.end] == "明天 19:30"
    assert found.text[found.end :].strip() == "社区活动室"


@pytest.mark.parametrize(
    ("text", "at", "rest"),
    [
        ("12月1日 下午3点 三号楼会议室", utc(2025, 12, 1, 7, 0), "三号楼会议室"),
        ("周五 19:30 线上", utc(2025, 5, 9, 11, 30), "线上"),
        ("2026-12-01 19:30 社区活动室", utc(2026, 12, 1, 11, 30), "社区活动室"),
        ("明天19:30社区活动室", utc(2025, 5, 7, 11, 30), "社区活动室"),
        ("明天　１９：３０　社区活动室", utc(2025, 5, 7, 11, 30), "社区活动室"),
        ("  明天 晚上8点半 居委会  ", utc(2025, 5, 7, 12, 30), "居委会"),
        ("7:30 pm 居委会", utc(2025, 5, 6, 11, 30), "居委会"),
        ("7pm 居委会", utc(2025, 5, 6, 11, 0), "居委会"),
        ("明天 10:00 am 居委会", utc(2025, 5, 7, 2, 0), "居委会"),
        ("明天 19:30", utc(2025, 5, 7, 11, 30), ""),
    ],
)
def test_find_when_leaves_the_rest_of_the_text(text: str, at: datetime, rest: str) -> None:
    found = find_when(text, now=NOW, timezone=TZ)
    assert found is not None
    assert found.at == at
    assert found.text[found.end :].strip() == rest


def test_find_when_works_on_the_normalized_text() -> None:
    found = find_when("１９：３０ 活动室", now=NOW, timezone=TZ)
    assert found is not None
    assert found.text == "19:30 活动室"
    assert found.end == 5


@pytest.mark.parametrize("text", ["社区活动室 明天 19:30", "", "明天", "下周开会"])
def test_find_when_returns_none_when_the_text_starts_with_no_time(text: str) -> None:
    assert find_when(text, now=NOW, timezone=TZ) is None


def test_find_when_refuses_an_impossible_time_at_the_start() -> None:
    with pytest.raises(errors.InvalidInput) as caught:
        find_when("2月30日 10:00 活动室", now=NOW, timezone=TZ)
    assert caught.value.params["field"] == "when"


def test_find_when_does_not_eat_the_start_of_a_latin_place_name() -> None:
    found = find_when("明天 10:00 Amy家", now=NOW, timezone=TZ)
    assert found is not None
    assert found.at == utc(2025, 5, 7, 2, 0)  # 10:00 as typed: "Am" is not "am"
    assert found.text[: found.end] == "明天 10:00"
    assert found.text[found.end :].strip() == "Amy家"
    # Without minutes the hour is no time at all: "Am" does not make it one.
    assert find_when("明天 10 Amy家", now=NOW, timezone=TZ) is None


# --- durations ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("48h", timedelta(hours=48)),
        ("48H", timedelta(hours=48)),
        ("2d", timedelta(days=2)),
        ("2D", timedelta(days=2)),
        ("2天", timedelta(days=2)),
        ("2 天", timedelta(days=2)),
        ("３天", timedelta(days=3)),
        ("3小时", timedelta(hours=3)),
        ("3个小时", timedelta(hours=3)),
        ("90m", timedelta(minutes=90)),
        ("90min", timedelta(minutes=90)),
        ("90分钟", timedelta(minutes=90)),
        ("30分", timedelta(minutes=30)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("1d2h", timedelta(days=1, hours=2)),
        ("1d 2h 30m", timedelta(days=1, hours=2, minutes=30)),
        ("1天2小时", timedelta(days=1, hours=2)),
        ("0d1h", timedelta(hours=1)),
        (" 48h ", timedelta(hours=48)),
        ("1.5h", timedelta(hours=1, minutes=30)),
        ("0.25小时", timedelta(minutes=15)),
    ],
)
def test_valid_durations(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["0h", "0d", "0m", "0天0小时", "0d0h0m"])
def test_zero_durations_are_none(text: str) -> None:
    assert parse_duration(text) is None


@pytest.mark.parametrize(
    "text",
    ["", "   ", "garbage", "48", "h", "1.5d", "-1h", "2周", "h48", "48h!", "明天 19:30", "1000d"],
)
def test_garbage_durations_are_none(text: str) -> None:
    assert parse_duration(text) is None


# --- deadlines ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("48h", NOW + timedelta(hours=48)),
        ("2天", NOW + timedelta(days=2)),
        ("1h30m", NOW + timedelta(hours=1, minutes=30)),
        ("12-01 20:00", utc(2025, 12, 1, 12, 0)),
        ("明天 19:30", utc(2025, 5, 7, 11, 30)),
        ("周五 下午3点", utc(2025, 5, 9, 7, 0)),
        ("366d", NOW + MAX_AHEAD),  # exactly the limit
    ],
)
def test_deadlines_as_a_length_or_a_moment(text: str, expected: datetime) -> None:
    assert parse_deadline(text, now=NOW, timezone=TZ) == expected


@pytest.mark.parametrize("text", ["今天 08:00", "2024-12-01 20:00", "5月6日 17:00"])
def test_deadlines_in_the_past_are_refused(text: str) -> None:
    with pytest.raises(errors.InvalidInput) as caught:
        parse_deadline(text, now=NOW, timezone=TZ)
    assert caught.value.params == {"field": "deadline"}


@pytest.mark.parametrize("text", ["367d", "9000h", "2026-06-01 10:00", "2027年1月1日 10:00"])
def test_deadlines_more_than_a_year_ahead_are_refused(text: str) -> None:
    with pytest.raises(errors.InvalidInput) as caught:
        parse_deadline(text, now=NOW, timezone=TZ)
    assert caught.value.params == {"field": "too_far", "days": 366}


@pytest.mark.parametrize("text", ["0h", "garbage", "", "1000d"])
def test_unreadable_deadlines_are_refused(text: str) -> None:
    with pytest.raises(errors.InvalidInput) as caught:
        parse_deadline(text, now=NOW, timezone=TZ)
    assert caught.value.params["field"] == "when"


def test_require_future() -> None:
    assert require_future(NOW + timedelta(seconds=1), now=NOW, field="x") == NOW + timedelta(
        seconds=1
    )
    assert require_future(NOW + MAX_AHEAD, now=NOW, field="x") == NOW + MAX_AHEAD
    with pytest.raises(errors.InvalidInput) as caught:
        require_future(NOW, now=NOW, field="meeting_time")
    assert caught.value.params == {"field": "meeting_time"}
    with pytest.raises(errors.InvalidInput) as caught:
        require_future(NOW - timedelta(days=1), now=NOW, field="deadline")
    assert caught.value.params == {"field": "deadline"}
    with pytest.raises(errors.InvalidInput) as caught:
        require_future(NOW + MAX_AHEAD + timedelta(seconds=1), now=NOW, field="deadline")
    assert caught.value.params == {"field": "too_far", "days": 366}
