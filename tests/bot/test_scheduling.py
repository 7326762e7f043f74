"""Deadlines, reminders and nudges, end to end: the real bot, APScheduler and the emulator.

Nothing sleeps until a deadline. The wall clock is moved with ``time_machine``
(APScheduler 3 reads it itself; the bot's injected clock reads it too), then
the scheduler is asked to look at its jobs (``Scheduler.tick``), as its
heartbeat would. Restarts are real: the application is stopped and a new one
started on the same database and the same emulated chat.

A test that moves the clock once read the wall clock to count days, and the suite
was red from 00:00 to 16:30. So every test here that moves the clock runs at four
times of day on SQLite — after midnight, morning, afternoon and the last minute of
a day, Asia/Shanghai — and at the usual 10:00 on PostgreSQL (the hour matters to the
schedule, not to the database): ``test_x[sqlite-00:30]`` … ``test_x[postgresql-10:00]``.
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from bot.telegram.local import LocalBot, bot_on
from domain import due_jobs
from domain.model import NoticeState
from emulator import BotApiEmulator, Message, RateLimits, User
from storage.uow import SqlUnitOfWork
from tests.bot.conftest import (
    PINNED_AT,
    Council,
    advance,
    assert_clean,
    bot_messages,
    button,
    group_texts,
    make_council,
    press,
    say,
    settle_jobs,
    shown,
    start_payload,
    text_of,
)

TZ = "Asia/Shanghai"
LATE_TEXT = "此结果为恢复后补发"
TIMES_OF_DAY = ("00:30", "08:00", "16:00", "23:59")


def _at_times_of_day() -> pytest.MarkDecorator:
    """The clock-moving tests at four times of day on SQLite, at PINNED_AT on PostgreSQL
    (with YISHI_TEST_CLOCK set: at that time only, as elsewhere)."""
    times = (PINNED_AT,) if "YISHI_TEST_CLOCK" in os.environ else TIMES_OF_DAY
    cases = [pytest.param("sqlite", at, id=f"sqlite-{at}") for at in times]
    cases.append(pytest.param("postgresql", PINNED_AT, id=f"postgresql-{PINNED_AT}"))
    return pytest.mark.parametrize(("migrated_url", "time_of_day"), cases, indirect=True)


at_times_of_day = _at_times_of_day()


@pytest.fixture
async def emulator() -> AsyncIterator[BotApiEmulator]:
    async with BotApiEmulator(limits=RateLimits(group_per_minute=600)) as emu:
        yield emu


async def close_by_its_job(local: LocalBot, ballot_id: int) -> None:
    """Run the closing job's transaction, as the scheduler would, but send nothing (a
    unit of work of its own, that publishes to no bus: the process died after it)."""
    ran = await due_jobs.run_job(
        SqlUnitOfWork(local.database.sessions),
        f"ballot_close:{ballot_id}",
        now=local.deps.clock(),
        grace=local.deps.scheduler.grace,
    )
    assert ran.ran is due_jobs.Ran.DONE and ran.notices == 1


async def vote(council: Council, user: User, ballot: Message, label: str) -> None:
    answer = await press(council.emu, user, ballot, button(ballot, label))
    assert answer.text is not None and "已记录" in answer.text, answer


# --- a ballot closes by itself -----------------------------------------------------------


@at_times_of_day
async def test_a_ballot_with_a_deadline_closes_by_itself(
    local: LocalBot, traveller: time_machine.Traveller, caplog: pytest.LogCaptureFixture
) -> None:
    council = await make_council(local)
    await council.topic()
    ballot, ballot_id = await council.ballot("3h")
    assert "截止：" in (ballot.text or "") and "到时自动结束" in (ballot.text or "")
    await vote(council, council.members[0], ballot, "赞成")
    await vote(council, council.members[1], ballot, "赞成")
    await vote(council, council.members[2], ballot, "反对")
    pending = local.deps.scheduler.pending()
    assert set(pending) == {f"ballot_close:{ballot_id}", f"ballot_nudge:{ballot_id}"}

    await advance(local, traveller, timedelta(hours=3, seconds=1))
    await settle_jobs(local, runs=2)  # the nudge (skipped: 2 h late) and the closing

    outcomes = group_texts(council, "表决结果")
    assert len(outcomes) == 1, outcomes
    assert "表决已于截止时间" in outcomes[0] and "通过" in outcomes[0]
    assert LATE_TEXT not in outcomes[0]
    assert "表决已结束" in text_of(council.emu, ballot)
    assert not (await _current(council, ballot)).buttons  # no more voting
    assert local.deps.scheduler.pending() == {}
    assert_clean(council.emu, caplog)


async def _current(council: Council, message: Message) -> Message:
    return next(
        m for m in council.emu.messages(council.group) if m.message_id == message.message_id
    )


@at_times_of_day
async def test_votes_after_the_deadline_are_refused_even_before_the_job_ran(
    local: LocalBot, traveller: time_machine.Traveller
) -> None:
    council = await make_council(local)
    await council.topic()
    ballot, _ = await council.ballot("1h")
    traveller.shift(timedelta(hours=1, seconds=5))  # no tick: the job has not run yet
    answer = await press(council.emu, council.members[0], ballot, button(ballot, "赞成"))
    assert answer.show_alert and "已结束" in (answer.text or "")


# --- restarts and crashes -------------------------------------------------------------------


@at_times_of_day
async def test_restart_between_scheduling_and_firing_fires_once_and_says_late(
    emulator: BotApiEmulator, migrated_url: str, traveller: time_machine.Traveller
) -> None:
    async with bot_on(emulator, migrated_url) as first:
        council = await make_council(first)
        await council.topic()
        ballot, _ = await council.ballot("1h")
        await vote(council, council.members[0], ballot, "赞成")
    # The bot is down while the deadline passes.
    traveller.shift(timedelta(hours=3))
    async with bot_on(emulator, migrated_url) as second:
        council.local = second
        await settle_jobs(second, runs=1)
        assert second.deps.scheduler.last_reconcile is not None
        outcomes = group_texts(council, "表决结果")
        assert len(outcomes) == 1 and LATE_TEXT in outcomes[0], outcomes
        assert second.deps.scheduler.pending() == {}
    # Once more: nothing is left to do, nothing is said again.
    async with bot_on(emulator, migrated_url) as third:
        await third.deps.scheduler.settled()
        await third.deps.outbox.drain()
        assert third.deps.scheduler.runs == []
    assert len(group_texts(council, "表决结果")) == 1


@at_times_of_day
async def test_a_kill_right_after_firing_announces_nothing_twice(
    emulator: BotApiEmulator, migrated_url: str, traveller: time_machine.Traveller
) -> None:
    async with bot_on(emulator, migrated_url) as first:
        council = await make_council(first)
        await council.topic()
        _ballot, ballot_id = await council.ballot("1h")
        await advance(first, traveller, timedelta(hours=1, seconds=1))
        await settle_jobs(first, runs=1)  # no nudge: 2 h before is before the ballot opened
        assert len(group_texts(council, "表决结果")) == 1
        # As if the process died before APScheduler had removed the job it fired:
        # the row is still in the job store when the next process starts.
        first.deps.scheduler._add(f"ballot_close:{ballot_id}", first.deps.clock())
        first.deps.scheduler.leadership.is_leader = False  # the dying leader does nothing more
    async with bot_on(emulator, migrated_url) as second:
        council.local = second
        await second.deps.scheduler.settled()
        await second.deps.outbox.drain()
        await emulator.wait_idle(quiet=0.2)
    assert len(group_texts(council, "表决结果")) == 1


@at_times_of_day
async def test_a_crash_between_the_closing_and_its_message_still_sends_it_once(
    emulator: BotApiEmulator, migrated_url: str, traveller: time_machine.Traveller
) -> None:
    async with bot_on(emulator, migrated_url) as first:
        council = await make_council(first)
        await council.topic()
        _ballot, ballot_id = await council.ballot("1h")
        traveller.shift(timedelta(hours=1, seconds=1))
        # The closing commits with its notice queued, then the process dies before sending.
        await close_by_its_job(first, ballot_id)
        assert group_texts(council, "表决结果") == []
    async with bot_on(emulator, migrated_url) as second:
        council.local = second
        await second.emulator.wait_for_bot_message(
            council.group, lambda m: "表决结果" in shown(m), timeout=10, after=0
        )
        await second.deps.outbox.drain()
        await emulator.wait_idle(quiet=0.2)
    assert len(group_texts(council, "表决结果")) == 1


@at_times_of_day
async def test_a_notice_left_half_sent_by_a_dead_process_is_not_sent_again(
    emulator: BotApiEmulator, migrated_url: str, traveller: time_machine.Traveller
) -> None:
    async with bot_on(emulator, migrated_url) as first:
        council = await make_council(first)
        await council.topic()
        _ballot, ballot_id = await council.ballot("1h")
        traveller.shift(timedelta(hours=1, seconds=1))
        await close_by_its_job(first, ballot_id)
        from domain import outbox

        # A sender took the notice, sent it maybe, and died before saying so.
        (taken,) = await outbox.claim_notices(first.database.uow(), now=first.deps.clock(), limit=5)
    traveller.shift(timedelta(minutes=10))
    async with bot_on(emulator, migrated_url) as second:
        await second.deps.scheduler.settled()
        await second.deps.outbox.drain()
        async with second.database.uow() as uow:
            assert taken.id is not None
            notice = await uow.notices.get(taken.id)
        assert notice is not None and notice.state is NoticeState.UNKNOWN
    assert group_texts(council, "表决结果") == []


# --- nudges ------------------------------------------------------------------------------


@at_times_of_day
async def test_the_nudge_goes_only_to_those_who_have_not_voted(
    local: LocalBot, traveller: time_machine.Traveller, caplog: pytest.LogCaptureFixture
) -> None:
    council = await make_council(local)
    voter, started, silent, blocked = council.members
    for user in (voter, started, blocked):
        await say(council.emu, user, user, "/start")  # they opened the bot privately
    council.emu.block_bot(blocked)  # … and one blocked it since
    await council.topic()
    ballot, _ = await council.ballot("3h")
    await vote(council, voter, ballot, "赞成")
    await vote(council, council.chair, ballot, "反对")

    await advance(local, traveller, timedelta(hours=1, seconds=1))  # 2 h before the deadline
    await settle_jobs(local, runs=1)
    await local.deps.outbox.drain()
    await council.emu.wait_idle(quiet=0.3)

    def nudges(user: User) -> list[str]:
        return [m.text or "" for m in council.emu.sent_to(user) if "还没有投票" in (m.text or "")]

    assert len(nudges(started)) == 1
    assert nudges(voter) == [] and nudges(council.chair) == []
    group = group_texts(council, "以下成员还没有投票")
    # One group message for the one who never started the bot, one for the one who blocked it.
    named = " ".join(group)
    assert silent.first_name in named and blocked.first_name in named
    assert voter.first_name not in named and started.first_name not in named
    mentions = [
        e["url"]
        for m in bot_messages(council.emu, council.group)
        for e in m.entities
        if e.get("type") == "text_link"
    ]
    assert f"tg://user?id={silent.id}" in mentions
    assert_clean(council.emu, caplog, allowed_errors=["403"])


# --- collection deadlines ----------------------------------------------------------------


@at_times_of_day
async def test_a_collection_deadline_opens_the_vote_by_itself(
    local: LocalBot, traveller: time_machine.Traveller, caplog: pytest.LogCaptureFixture
) -> None:
    council = await make_council(local)
    await council.topic()
    await council.say(council.members[0], "/propose 建口袋花园")
    await council.say(council.members[1], "/propose 改成停车场")
    reply = await council.say(council.chair, "/deadline 1d")
    assert "征集意见截止" in (reply.text or "")
    await advance(local, traveller, timedelta(days=1, seconds=1))
    opened = await council.emu.wait_for_bot_message(
        council.group, lambda m: "现自动发起表决" in (m.text or ""), timeout=10, after=0
    )
    await settle_jobs(local, runs=1)
    assert "选项1" in (opened.text or "") and len(opened.buttons) == 3  # 2 options + abstain
    answer = await press(council.emu, council.members[2], opened, opened.buttons[0][0][1] or "")
    assert "已记录" in (answer.text or "")
    assert_clean(council.emu, caplog)


# --- meetings -----------------------------------------------------------------------------


def local_day(days: int) -> str:
    day = datetime.now(UTC).astimezone(ZoneInfo(TZ)) + timedelta(days=days)
    return f"{day.year}-{day.month:02d}-{day.day:02d}"


@at_times_of_day
async def test_moving_a_meeting_moves_its_reminders(
    local: LocalBot, traveller: time_machine.Traveller, caplog: pytest.LogCaptureFixture
) -> None:
    council = await make_council(local)
    await council.topic("活动室使用规则")
    card = await council.say(council.chair, f"/meeting {local_day(3)} 19:30 社区活动室\n其他事项")
    assert "议事会会议" in (card.text or "") and "社区活动室" in (card.text or "")
    meeting_id = int((card.text or "").split("#", 1)[1].split("（", 1)[0])
    chat = council.emu._engine.world.chats[council.group.id]
    assert chat.pinned_message_id == card.message_id
    # The chair puts the topic on the agenda with its button.
    topic_button = button(card, "活动室使用规则")
    answer = await press(council.emu, council.chair, card, topic_button)
    assert "列入议程" in (answer.text or "")
    refused = await press(council.emu, council.members[0], card, topic_button)
    assert refused.show_alert
    before = local.deps.scheduler.pending()
    assert set(before) == {
        f"meeting_reminder:{meeting_id}:1440",
        f"meeting_reminder:{meeting_id}:60",
    }

    moved = await council.say(council.chair, f"/meeting move {meeting_id} {local_day(4)} 19:30")
    assert "改期" in (moved.text or "")
    after = local.deps.scheduler.pending()
    assert set(after) == set(before)
    assert all(after[k] - before[k] == pytest.approx(86400) for k in after)

    day_before = f"meeting_reminder:{meeting_id}:1440"
    # The old moment of the 24 h reminder passes: nothing is said.
    await advance(local, traveller, timedelta(seconds=before[day_before] + 60 - time.time()))
    await local.deps.scheduler.settled()
    assert group_texts(council, "会议提醒") == []
    assert local.deps.scheduler.runs == []
    # The new one: said once, with the agenda.
    await advance(local, traveller, timedelta(seconds=after[day_before] + 60 - time.time()))
    await settle_jobs(local, runs=1)
    reminders = group_texts(council, "会议提醒")
    assert len(reminders) == 1, reminders
    assert "活动室使用规则" in reminders[0] and "其他事项" in reminders[0]
    assert "还有 1 天" in reminders[0]
    assert_clean(council.emu, caplog)


@at_times_of_day
async def test_cancelling_a_meeting_drops_its_reminders(
    local: LocalBot, traveller: time_machine.Traveller
) -> None:
    council = await make_council(local)
    card = await council.say(council.chair, f"/meeting {local_day(2)} 09:00 线上")
    assert "线上" in (card.text or "")
    cancelled = await council.say(council.chair, "/meeting cancel")
    assert "已取消" in (cancelled.text or "")
    assert local.deps.scheduler.pending() == {}
    assert "已取消" in text_of(council.emu, card)
    await advance(local, traveller, timedelta(days=2))
    await local.deps.scheduler.settled()
    assert group_texts(council, "会议提醒") == []


@at_times_of_day
async def test_a_reminder_missed_while_the_bot_was_down_is_skipped_not_sent_late(
    emulator: BotApiEmulator, migrated_url: str, traveller: time_machine.Traveller
) -> None:
    async with bot_on(emulator, migrated_url) as first:
        council = await make_council(first)
        await council.say(council.chair, f"/meeting {local_day(3)} 19:30 社区活动室")
    day = datetime.fromisoformat(local_day(3))
    starts = datetime(day.year, day.month, day.day, 19, 30, tzinfo=ZoneInfo(TZ))
    # Past the 24 h reminder by 3 hours, and 20 hours before the 1 h one.
    traveller.move_to(starts - timedelta(hours=24) + timedelta(hours=3))
    async with bot_on(emulator, migrated_url) as second:
        await second.deps.scheduler.settled()
        await second.deps.outbox.drain()
        pending = second.deps.scheduler.pending()
        assert [k for k in pending if k.endswith(":1440")] == []
        assert [k for k in pending if k.endswith(":60")]  # the 1 h one is still to come
    assert group_texts(council, "会议提醒") == []


async def test_calendar_file_and_agenda(local: LocalBot, caplog: pytest.LogCaptureFixture) -> None:
    council = await make_council(local)
    await council.topic()
    card = await council.say(council.chair, f"/meeting {local_day(5)} 下午3点 社区活动室")
    member = council.members[0]
    meeting_id = int((card.text or "").split("#", 1)[1].split("（", 1)[0])
    # Never wrote to the bot: the button opens the private chat, where /start sends the file.
    answer = await press(council.emu, member, card, button(card, "日历"))
    assert answer.url is not None
    assert answer.url.startswith(f"https://t.me/yishi_bot?start=m{meeting_id}_")  # signed
    await say(council.emu, member, member, "/start " + start_payload(answer.url))
    # Now the bot may write: a second press sends it straight away.
    again = await press(council.emu, member, card, button(card, "日历"))
    assert "私信" in (again.text or "")
    files = [m for m in council.emu.sent_to(member) if m.document is not None]
    assert len(files) == 2 and files[0].document is not None
    assert files[0].document["file_name"] == f"meeting-{meeting_id}.ics"
    data = council.emu._engine.world.files[files[0].document["file_id"]][2]
    from icalendar import Calendar

    event = Calendar.from_ical(data).walk("VEVENT")[0]
    assert str(event["location"]) == "社区活动室"
    assert event.decoded("dtstart").astimezone(ZoneInfo(TZ)).hour == 15
    agenda = await council.say(member, "/agenda")
    assert "社区活动室" in (agenda.text or "") and "征集意见" in (agenda.text or "")
    assert_clean(council.emu, caplog, allowed_errors=["403"])


async def test_bad_times_and_non_chairs_are_refused(local: LocalBot) -> None:
    council = await make_council(local)
    cases = {
        "/meeting": "用法",
        "/meeting 下周八 19:30 活动室": "没看懂时间",
        "/meeting 2020-01-01 19:30 活动室": "必须在将来",
        f"/meeting {local_day(1)} 19:30": "请写上地点",
        "/deadline": "用法",
        "/deadline 48h": "没有进行中的议题",
        "/reminders 5x": "没看懂提醒时间",
    }
    for text, expected in cases.items():
        reply = await council.say(council.chair, text)
        assert expected in (reply.text or ""), (text, reply.text)
    refused = await council.say(council.members[0], f"/meeting {local_day(1)} 19:30 活动室")
    assert "只有召集人" in (refused.text or "")
    shown = await council.say(council.members[0], "/reminders")
    assert "24 小时" in (shown.text or "") or "1 天" in (shown.text or "")
    changed = await council.say(council.chair, "/reminders 48h 2h")
    assert "2 天" in (changed.text or "") and "2 小时" in (changed.text or "")
