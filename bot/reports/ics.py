"""A meeting as an iCalendar file (RFC 5545), made with the ``icalendar`` library, for
any front end: the chat sends it privately, the console offers it as a download.

icalendar is imported with this module: import it where a file is asked for, not when
the bot starts."""

from __future__ import annotations

import html
import re
from datetime import datetime, timedelta

from icalendar import Alarm, Calendar, Event

from bot.i18n import escape, t
from domain.meetings import MeetingView
from domain.model import Meeting

LENGTH = timedelta(hours=2)  # a council sitting's usual length; the file needs an end
PREVIEW = 60  # characters of a topic's title on the agenda (as the chat's card shows)
_TAG = re.compile(r"<[^>]+>")


def _plain(text: str, limit: int = 200) -> str:
    """A catalogue's HTML as plain text, cut at ``limit`` characters."""
    text = html.unescape(_TAG.sub("", text))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _short(text: str, limit: int = PREVIEW) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _place(lang: str, meeting: Meeting) -> str:
    return t(lang, "meeting.online") if meeting.online else escape(meeting.place)


def _agenda(lang: str, view: MeetingView) -> list[str]:
    lines: list[str] = [
        t(lang, "meeting.agenda_topic", n=n, id=topic.id, title=_short(topic.title))
        for n, topic in enumerate(view.agenda, 1)
    ]
    first = len(lines) + 1
    lines += [
        t(lang, "meeting.agenda_item", n=n, text=item)
        for n, item in enumerate(view.meeting.items, first)
    ]
    return lines


def meeting_ics(lang: str, view: MeetingView, *, now: datetime, domain: str) -> bytes:
    """The calendar file of a meeting; its UID stays the same when the meeting moves,
    and SEQUENCE grows, so calendar apps update the event instead of adding one."""
    meeting, council = view.meeting, view.council
    assert meeting.id is not None
    calendar = Calendar()
    calendar.add("prodid", "-//Yishi//议事//ZH")
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    event = Event()
    event.add("uid", f"meeting-{meeting.id}@{domain}")
    event.add("dtstamp", now)
    event.add("dtstart", meeting.starts_at)
    event.add("dtend", meeting.starts_at + LENGTH)
    event.add("sequence", meeting.version - 1)
    event.add("summary", _plain(t(lang, "ics.summary", council=council.title), 200))
    event.add("location", _plain(_place(lang, meeting), 200))
    agenda = [_plain(line, 400) for line in _agenda(lang, view)]
    event.add("description", "\n".join(agenda))
    event.add("status", "CONFIRMED" if meeting.is_scheduled else "CANCELLED")
    alarm = Alarm()
    alarm.add("action", "DISPLAY")
    alarm.add("description", _plain(t(lang, "ics.summary", council=council.title)))
    alarm.add("trigger", timedelta(hours=-1))
    event.add_component(alarm)
    calendar.add_component(event)
    data: bytes = calendar.to_ical()
    return data
