"""Reading the times people type: "明天 19:30", "12月1日 下午3点", "2026-12-01 19:30", "48h".

Times are read in the council's time zone and returned timezone-aware (UTC).
``now`` is passed in: a bare "19:30" means the next 19:30 to come, a date
without a year the next such date.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from domain import errors
from domain.numbers import fold

MAX_AHEAD = timedelta(days=366)  # nobody plans a council further ahead; a typo is likelier

_DATE = (
    r"(?:(?:(?P<year>[0-9]{4})[-/.年])?(?P<month>[0-9]{1,2})[-/.月](?P<day>[0-9]{1,2})[日号]?"
    r"|(?P<relative>今天|今日|明天|明日|后天|today|tomorrow)"
    r"|(?:周|星期|礼拜)(?P<weekday>[一二三四五六日天1-7]))"
)
_TIME = (
    r"(?P<part>上午|早上|中午|下午|晚上|傍晚)?\s*(?P<hour>[0-9]{1,2})"
    r"(?:[:](?P<minute>[0-9]{2})|点(?:(?P<half>半)|(?P<minute2>[0-9]{1,2})分?)?|时|(?=\s*(?:am|pm)\b))"
    r"(?:\s*(?P<ampm>am|pm)\b)?"
)
_WHEN = re.compile(rf"(?:{_DATE}\s*)?{_TIME}", re.IGNORECASE)
_DURATION = re.compile(
    r"(?:(?P<days>[0-9]{1,3})\s*(?:d|天))?\s*"
    r"(?:(?P<hours>[0-9]{1,4}(?:\.[0-9]{1,2})?)\s*(?:h|小时|个小时))?\s*"
    r"(?:(?P<minutes>[0-9]{1,5})\s*(?:m|min|分钟|分))?",
    re.IGNORECASE,
)
_WEEKDAYS = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6}
_RELATIVE = {"今天": 0, "今日": 0, "today": 0, "明天": 1, "明日": 1, "tomorrow": 1, "后天": 2}
_AFTERNOON = ("下午", "晚上", "傍晚")


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise errors.InvalidInput(field="timezone", value=name[:40]) from None


@dataclass(frozen=True)
class Found:
    at: datetime  # UTC
    end: int  # where the time ended in the (normalized) text
    text: str  # the normalized text it was read from


def _normalize(text: str) -> str:
    # Full-width digits and colons ("１９：３０") become ASCII; digits are ASCII only
    # (domain.numbers): "²" or "٣" is not read as a number.
    return fold(text).strip()


def find_when(text: str, *, now: datetime, timezone: str) -> Found | None:
    """A date and time at the start of ``text``, or None when it starts with none."""
    text = _normalize(text)
    match = _WHEN.match(text)
    if match is None:
        return None
    try:
        at = _resolve(match, now.astimezone(zone(timezone))).astimezone(UTC)
    except OverflowError:
        # "9999-12-31 晚上12点" is a day past the calendar's end; "0001-01-01 0:00" in
        # Shanghai is before its start in UTC.
        raise errors.InvalidInput(field="date_range", value=match[0][:40]) from None
    return Found(at, match.end(), text)


def parse_when(text: str, *, now: datetime, timezone: str) -> datetime:
    """A whole text read as a moment to come."""
    found = find_when(text, now=now, timezone=timezone)
    if found is None or found.text[found.end :].strip():
        raise errors.InvalidInput(field="when", value=text[:40])
    return found.at


def parse_duration(text: str) -> timedelta | None:
    """ "48h", "2d", "1h30m", "3小时", "2天": a positive length of time, or None."""
    text = _normalize(text)
    match = _DURATION.fullmatch(text)
    if not text or match is None or not any(match.groupdict().values()):
        return None
    length = timedelta(
        days=int(match["days"] or 0),
        # "1.5h": hours may have decimals; whole minutes are what is kept.
        minutes=int(Decimal(match["hours"] or 0) * 60) + int(match["minutes"] or 0),
    )
    return length if length > timedelta(0) else None


def parse_deadline(text: str, *, now: datetime, timezone: str) -> datetime:
    """A deadline as a length from now ("48h") or a moment ("12-01 20:00")."""
    length = parse_duration(text)
    at = now + length if length is not None else parse_when(text, now=now, timezone=timezone)
    return require_future(at, now=now, field="deadline")


def require_future(at: datetime, *, now: datetime, field: str) -> datetime:
    if at <= now:
        raise errors.InvalidInput(field=field)
    if at - now > MAX_AHEAD:
        raise errors.InvalidInput(field="too_far", days=MAX_AHEAD.days)
    return at


def _resolve(match: re.Match[str], local_now: datetime) -> datetime:
    tz = local_now.tzinfo
    hour = int(match["hour"])
    minute = 30 if match["half"] else int(match["minute"] or match["minute2"] or 0)
    part, ampm = match["part"], (match["ampm"] or "").lower()
    # "晚上12点" is midnight, the end of that evening: 00:00 of the next day.
    midnight = part == "晚上" and hour == 12
    if midnight:
        hour = 0
    elif ((part in _AFTERNOON or ampm == "pm") and hour < 12) or (part == "中午" and hour < 6):
        hour += 12
    elif ampm == "am" and hour == 12:
        hour = 0
    if hour > 23 or minute > 59:
        raise errors.InvalidInput(field="when", value=match[0][:40])
    clock = time(hour, minute)
    day = _day(match, local_now.date())
    if day is None:  # no date: the next time the clock shows this
        candidate = datetime.combine(local_now.date(), clock, tz)
        return candidate if candidate > local_now else candidate + timedelta(days=1)
    at = datetime.combine(day, clock, tz) + timedelta(days=1 if midnight else 0)
    if match["weekday"] and at <= local_now:
        at += timedelta(days=7)  # "周五 19:30" said on a Friday evening: next Friday
    return at


def _day(match: re.Match[str], today: date) -> date | None:
    if match["relative"]:
        return today + timedelta(days=_RELATIVE[match["relative"].lower()])
    if match["weekday"]:
        raw = match["weekday"]
        wanted = _WEEKDAYS[raw] if raw in _WEEKDAYS else int(raw) - 1  # "五" or "5"
        ahead = (wanted - today.weekday()) % 7
        return today + timedelta(days=ahead)
    if match["month"] is None:
        return None
    month, day = int(match["month"]), int(match["day"])
    if match["year"]:
        try:
            return date(int(match["year"]), month, day)
        except ValueError:
            raise errors.InvalidInput(field="when", value=match[0][:40]) from None
    # Without a year: the next such date, "2月29日" included (up to a leap year away).
    for year in range(today.year, today.year + 5):
        try:
            found = date(year, month, day)
        except ValueError:
            continue
        if found >= today:
            return found
    raise errors.InvalidInput(field="when", value=match[0][:40])
