"""A meeting as an iCalendar file (RFC 5545), made with the ``icalendar`` library."""

from __future__ import annotations

from datetime import datetime, timedelta

from icalendar import Alarm, Calendar, Event

from bot.i18n import t
from bot.telegram import render
from domain.meetings import MeetingView

LENGTH = timedelta(hours=2)  # a council sitting's usual length; the file needs an end


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
    event.add("summary", render.plain(t(lang, "ics.summary", council=council.title), 200))
    event.add("location", render.plain(render.place_text(lang, meeting), 200))
    agenda = [render.plain(line, 400) for line in render.agenda_lines(lang, view)]
    event.add("description", "\n".join(agenda))
    event.add("status", "CONFIRMED" if meeting.is_scheduled else "CANCELLED")
    alarm = Alarm()
    alarm.add("action", "DISPLAY")
    alarm.add("description", render.plain(t(lang, "ics.summary", council=council.title)))
    alarm.add("trigger", timedelta(hours=-1))
    event.add_component(alarm)
    calendar.add_component(event)
    data: bytes = calendar.to_ical()
    return data
