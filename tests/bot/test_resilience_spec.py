"""Issue 8, end to end and from the specification: faults survived, privacy and limits.

The real bot on the local Bot API emulator, on SQLite and on PostgreSQL. Faults are
injected from outside the bot: a domain use case that loses its database connection
for a while (monkeypatched, then restored), Bot API calls that fail, a group that
Telegram upgrades to a supergroup, a second bot on the same SQLite file.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest
import time_machine
from sqlalchemy.exc import OperationalError

from bot.telegram.local import LocalBot, bot_on, local_bot
from domain import services, volunteering
from emulator import BotApiEmulator, Message, RateLimits, User
from emulator.methods import METHODS
from storage.db import DatabaseInUse
from tests.bot.conftest import (
    QUIET,
    TIMEOUT,
    Council,
    advance,
    api_errors,
    assert_clean,
    bot_messages,
    button,
    buttons,
    current,
    current_votes,
    make_council,
    press,
    proposals_of,
    say,
    send,
    settle_jobs,
    settled,
    shown,
    start_payload,
    tail,
    text_of,
    url_buttons,
    vote_events,
)

CANNOT_RECORD = "⚠️ 暂时无法记录，请稍后再按。"
CANNOT_RECORD_EN = "⚠️ Could not record this just now; please press again in a moment."
CANNOT_HANDLE = "⚠️ 暂时无法处理，请稍后再发一次。"
INTERNAL = "⚠️ 抱歉，处理时出了问题，请稍后再试。"
RECORDED = "已记录"
BAD_LINK = "⛔ 这个链接已失效，或不是给您的。请从群里的卡片重新打开。"
GROUP = "杨家园社区小院议事会"


def outage() -> OperationalError:
    """What SQLAlchemy raises when the database connection is refused."""
    return OperationalError("SELECT 1", {}, psycopg.OperationalError("connection refused"))


def failing(error: Callable[[], BaseException]) -> Callable[..., Awaitable[Any]]:
    async def fail(*args: Any, **kwargs: Any) -> Any:
        raise error()

    return fail


@pytest.fixture
async def emulator() -> AsyncIterator[BotApiEmulator]:
    async with BotApiEmulator(limits=RateLimits(group_per_minute=600)) as emu:
        yield emu


def all_texts(emu: BotApiEmulator) -> list[str]:
    """Every bot message, edit and callback answer so far, as the transcript has them."""
    texts: list[str] = []
    for entry in emu.transcript.entries:
        if entry.kind in ("bot", "edit"):
            texts.append(entry.text)
        elif entry.kind == "press" and entry.answer:
            texts.append(entry.answer)
    return texts


async def wait_until(check: Callable[[], Awaitable[bool]], timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


# --- 1. a database outage while handling --------------------------------------------------


async def test_a_vote_during_a_database_outage_is_not_called_recorded_and_counts_once_after(
    local: LocalBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    council = await make_council(local)
    emu = council.emu
    aunt = council.members[0]
    await council.topic()
    ballot, ballot_id = await council.ballot()
    before = text_of(emu, ballot)
    yes = button(ballot, "赞成")

    monkeypatch.setattr(services, "cast_votes", failing(outage))
    for _ in range(2):  # pressing again while it lasts gets the same truthful answer
        answer = await press(emu, aunt, ballot, yes)
        assert answer.text == CANNOT_RECORD, answer
        assert RECORDED not in (answer.text or "")
    await settled(local)
    assert await current_votes(local, ballot_id) == {}
    assert await vote_events(local, ballot_id) == 0
    assert text_of(emu, ballot) == before
    assert not any(RECORDED in t for t in all_texts(emu)), tail(emu)

    monkeypatch.undo()  # the database is back
    answer = await press(emu, aunt, ballot, yes)
    assert answer.text is not None and RECORDED in answer.text, answer
    await settled(local)
    assert len(await current_votes(local, ballot_id)) == 1
    assert await vote_events(local, ballot_id) == 1
    assert "赞成 1" in text_of(emu, ballot)
    assert_clean(emu)


async def test_a_press_refused_during_an_outage_is_not_applied_later_over_a_newer_one(
    emulator: BotApiEmulator, migrated_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Told "could not record", the member votes otherwise once the database is back; the
    refused press must not come back later (a retry, a restart) and overwrite it."""
    async with bot_on(emulator, migrated_url) as first:
        council = await make_council(first)
        aunt = council.members[0]
        await council.topic()
        ballot, ballot_id = await council.ballot()
        monkeypatch.setattr(services, "cast_votes", failing(outage))
        refused = await press(emulator, aunt, ballot, button(ballot, "赞成"))
        assert refused.text == CANNOT_RECORD, refused
        monkeypatch.undo()
        changed = await press(emulator, aunt, ballot, button(ballot, "反对"))
        assert RECORDED in (changed.text or ""), changed
        await settled(first)
        await first.deps.inbox.drain()  # every update in hand handled and marked
        assert list((await current_votes(first, ballot_id)).values()) == ["against"]
    async with bot_on(emulator, migrated_url) as second:
        await settled(second)
        assert list((await current_votes(second, ballot_id)).values()) == ["against"]
        assert await vote_events(second, ballot_id) == 1
        answers = [e.answer for e in emulator.transcript.entries if e.kind == "press"]
        assert answers.count(CANNOT_RECORD) == 1, answers


async def test_a_connection_lost_at_commit_writes_no_half_vote(
    local: LocalBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The votes were written in the transaction, then the commit failed: none is kept."""
    council = await make_council(local)
    emu = council.emu
    aunt, uncle = council.members[:2]
    await council.topic()
    ballot, ballot_id = await council.ballot()
    original = services.cast_votes

    async def commit_fails(uow: Any, requests: Any, **kwargs: Any) -> Any:
        async def broken_commit() -> None:
            raise outage()

        uow.commit = broken_commit
        return await original(uow, requests, **kwargs)

    monkeypatch.setattr(services, "cast_votes", commit_fails)
    answers = await asyncio.gather(
        emu.press(aunt, ballot, button(ballot, "赞成"), timeout=TIMEOUT),
        emu.press(uncle, ballot, button(ballot, "反对"), timeout=TIMEOUT),
    )
    assert [a.text for a in answers] == [CANNOT_RECORD, CANNOT_RECORD], answers
    await settled(local)
    assert await current_votes(local, ballot_id) == {}
    assert await vote_events(local, ballot_id) == 0

    monkeypatch.undo()
    assert RECORDED in ((await press(emu, aunt, ballot, button(ballot, "赞成"))).text or "")
    assert RECORDED in ((await press(emu, uncle, ballot, button(ballot, "反对"))).text or "")
    await settled(local)
    assert len(await current_votes(local, ballot_id)) == 2
    assert await vote_events(local, ballot_id) == 2


async def test_an_english_member_is_told_in_english_during_an_outage(
    local: LocalBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    emu = local.emulator
    chair = emu.add_user("杨静")
    alice = emu.add_user("Alice", language_code="en")
    group = emu.add_group(GROUP, admins=[chair], members=[alice])
    await say(emu, chair, group, "/setup")
    await say(emu, alice, group, "/join 1-1-101")
    await say(emu, chair, group, "/topic 活动室规则")
    ballot = await say(emu, chair, group, "/ballot")
    monkeypatch.setattr(services, "cast_votes", failing(outage))
    answer = await press(emu, alice, ballot, button(ballot, "赞成"))
    assert answer.text == CANNOT_RECORD_EN, answer


async def test_other_buttons_and_commands_during_an_outage(
    local: LocalBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    council = await make_council(local)
    emu = council.emu
    aunt, uncle = council.members[:2]
    newcomer = council.outsider
    _card, topic_id = await council.topic()
    proposal = await council.say(aunt, "/propose 建口袋花园")
    second = button(proposal, "附议")

    # A second (附议) press.
    monkeypatch.setattr(services, "second_proposal", failing(outage))
    answer = await press(emu, uncle, proposal, second)
    assert answer.text == CANNOT_RECORD, answer
    assert [label for label, _ in buttons(current(emu, proposal))] == ["👍 附议（0）"]

    # A command that writes.
    monkeypatch.setattr(services, "join", failing(outage))
    replies = await council.send(newcomer, "/join 3-2-399 90")
    assert [m.text for m in replies] == [CANNOT_HANDLE], [m.text for m in replies]
    # A command that only reads.
    monkeypatch.setattr(services, "roll", failing(outage))
    replies = await council.send(uncle, "/roll")
    assert [m.text for m in replies] == [CANNOT_HANDLE], [m.text for m in replies]
    assert not any(RECORDED in t for t in all_texts(emu)), tail(emu)

    monkeypatch.undo()
    assert "附议" in ((await press(emu, uncle, proposal, second)).text or "")
    assert [label for label, _ in buttons(current(emu, proposal))] == ["👍 附议（1）"]
    joined = await council.say(newcomer, "/join 3-2-399 90")
    assert (joined.text or "").startswith("✅"), joined.text
    roll = await council.say(uncle, "/roll")
    assert (roll.text or "").count("路人甲") == 1, roll.text
    assert await proposals_of(local, topic_id) == ["建口袋花园"]
    assert_clean(emu)


async def test_an_internal_error_is_answered_as_such_never_as_recorded(
    local: LocalBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    council = await make_council(local)
    emu = council.emu
    aunt = council.members[0]
    await council.topic()
    ballot, ballot_id = await council.ballot()

    monkeypatch.setattr(services, "cast_votes", failing(lambda: RuntimeError("boom")))
    answer = await press(emu, aunt, ballot, button(ballot, "赞成"))
    assert answer.text == INTERNAL, answer
    monkeypatch.setattr(services, "join", failing(lambda: RuntimeError("boom")))
    replies = await council.send(council.outsider, "/join 3-2-399")
    assert [m.text for m in replies] == [INTERNAL], [m.text for m in replies]
    assert not any(RECORDED in t for t in all_texts(emu)), tail(emu)
    assert await current_votes(local, ballot_id) == {}


async def test_an_offer_and_a_request_during_an_outage(
    local: LocalBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    council = await make_council(local)
    emu = council.emu
    aunt, uncle, sister, _ = council.members
    for volunteer in (uncle,):
        await council.say(volunteer, "/volunteer 维修")
    for user in (aunt, uncle, sister):
        await say(emu, user, user, "/start")
    received = await council.say(aunt, "/request 维修 水管漏水\n地点：3-2-302")
    assert (received.text or "").startswith("📨"), received.text
    await settled(local)
    (offer,) = [m for m in emu.sent_to(uncle) if m.buttons]
    accept = button(offer, "接单")

    monkeypatch.setattr(volunteering, "answer_offer", failing(outage))
    answer = await press(emu, uncle, offer, accept)
    assert answer.text == CANNOT_RECORD, answer
    await settled(local)
    assert [label for label, _ in buttons(current(emu, offer))] == ["✅ 接单", "不方便"]
    assert not any("正在安排" in shown(m) for m in emu.sent_to(aunt))  # not told "taken"

    monkeypatch.setattr(volunteering, "request_service", failing(outage))
    before = len(emu.sent_to(uncle))
    replies = await council.send(sister, "/request 维修 门锁坏了\n地点：3-2-303")
    assert [m.text for m in replies] == [CANNOT_HANDLE], [m.text for m in replies]
    await settled(local)
    assert len(emu.sent_to(uncle)) == before
    assert not any(RECORDED in t for t in all_texts(emu)), tail(emu)

    monkeypatch.undo()
    answer = await press(emu, uncle, offer, accept)
    assert answer.text == "✅ 接单成功，谢谢！", answer
    await settled(local)
    assert len([m for m in emu.sent_to(aunt) if "正在安排" in shown(m)]) == 1
    assert_clean(emu)


# --- 2. a network error on the answer to a stored vote --------------------------------------


@pytest.mark.parametrize("after_share", [0.0, 1.0], ids=["lost-before", "lost-after"])
async def test_a_lost_answer_to_a_stored_vote_does_not_say_it_failed(
    local: LocalBot, after_share: float
) -> None:
    council = await make_council(local)
    emu = council.emu
    aunt = council.members[0]
    await council.topic()
    ballot, ballot_id = await council.ballot()
    await emu.wait_idle(quiet=QUIET)

    others = [name for name, _ in METHODS.values() if name != "answerCallbackQuery"]
    emu.inject_failures(1.0, seed=1, after_share=after_share, spare=others)
    query = emu.press_later(aunt, ballot, button(ballot, "赞成"))

    async def stored() -> bool:
        return len(await current_votes(local, ballot_id)) == 1

    await wait_until(stored)
    await emu.wait_idle(quiet=0.5)
    emu.inject_failures(0.0)
    await settled(local)

    assert emu.injected_failures != (0, 0)
    assert await vote_events(local, ballot_id) == 1
    answer = emu.answer_of(query)
    if answer is not None:  # delivered after all (lost on its way back), or answered again
        assert answer.text is not None and RECORDED in answer.text, answer
    assert not any("出了问题" in t for t in all_texts(emu)), tail(emu)
    assert not any("暂时无法" in t for t in all_texts(emu)), tail(emu)
    assert "赞成 1" in text_of(emu, ballot)


# --- 3. signed deep links ------------------------------------------------------------------


def tamper(payload: str) -> str:
    """The same payload with the last character of its signature changed."""
    return payload[:-1] + ("A" if payload[-1] != "A" else "B")


async def test_a_forged_or_tampered_proposal_link_is_refused_and_starts_nothing(
    local: LocalBot,
) -> None:
    council = await make_council(local)
    emu = council.emu
    writer = council.members[0]
    card, topic_id = await council.topic()
    (link,) = url_buttons(card)
    payload = start_payload(link)
    assert payload.startswith(f"p{topic_id}_") and len(payload) > len(f"p{topic_id}_")
    signature = payload.split("_", 1)[1]

    for forged in (
        f"p{topic_id}",  # unsigned
        "p5",
        tamper(payload),
        f"p{topic_id + 1}_{signature}",  # another topic, the signature of this one
        f"p{topic_id}_",
    ):
        reply = await say(emu, writer, writer, f"/start {forged}")
        assert reply.text == BAD_LINK, (forged, reply.text)
    # No draft was started by any of them.
    assert (await say(emu, writer, writer, "/done")).text == "⛔ 没有找到要操作的内容。"
    assert await proposals_of(local, topic_id) == []

    started = await say(emu, writer, writer, f"/start {payload}")
    assert (started.text or "").startswith("✍️ 正在为议题「"), started.text
    assert_clean(emu)


def meeting_id_of(card: Message) -> int:
    return int((card.text or "").split("#", 1)[1].split("（", 1)[0])


def ics_files(emu: BotApiEmulator, user: User) -> list[Message]:
    return [m for m in emu.sent_to(user) if m.document is not None]


async def test_meeting_links_are_signed_and_only_for_members(local: LocalBot) -> None:
    council = await make_council(local)
    emu = council.emu
    member, other = council.members[:2]
    outsider = council.outsider
    day = datetime.now(UTC).astimezone(ZoneInfo("Asia/Shanghai")) + timedelta(days=5)
    when = f"{day.year}-{day.month:02d}-{day.day:02d} 19:30"
    card = await council.say(council.chair, f"/meeting {when} 社区活动室\n活动室规则")
    assert "社区活动室" in (card.text or ""), card.text
    meeting_id = meeting_id_of(card)
    calendar = button(card, "📅")

    # Someone not on the roll presses 📅: refused, no link, no file.
    refused = await press(emu, outsider, card, calendar)
    assert refused.url is None, refused
    assert (refused.text or "").startswith("⛔"), refused
    # A member who never started the bot gets a signed link.
    answer = await press(emu, member, card, calendar)
    assert answer.url is not None, answer
    payload = start_payload(answer.url)
    assert payload.startswith(f"m{meeting_id}_") and len(payload) > len(f"m{meeting_id}_")

    # Forged, unsigned or tampered links: refused clearly, nothing sent.
    for forged in ("m3", f"m{meeting_id}", tamper(payload), f"m{meeting_id + 1}_"
                   + payload.split("_", 1)[1]):  # fmt: skip
        reply = await say(emu, other, other, f"/start {forged}")
        assert reply.text == BAD_LINK, (forged, reply.text)
    assert ics_files(emu, other) == []

    # The member's valid link, passed on to someone outside the council: refused.
    leaked = await say(emu, outsider, outsider, f"/start {payload}")
    assert (leaked.text or "").startswith("⛔"), leaked.text
    assert ics_files(emu, outsider) == []
    # Opened by the member: the calendar file.
    await say(emu, member, member, f"/start {payload}")
    files = ics_files(emu, member)
    assert len(files) == 1 and files[0].document is not None
    assert files[0].document["file_name"] == f"meeting-{meeting_id}.ics"
    # The outsider, now able to receive messages, presses 📅 again: still nothing.
    again = await press(emu, outsider, card, calendar)
    assert (again.text or "").startswith("⛔"), again
    assert ics_files(emu, outsider) == []
    assert_clean(emu, allowed_errors=["403"])


# --- 4. secret ballots name nobody in the group ----------------------------------------------


def names_in(council: Council, texts: list[str]) -> list[tuple[str, str]]:
    people = [council.chair, *council.members]
    return [(p.first_name, t) for t in texts for p in people if p.first_name in t]


def group_texts_since(council: Council, message_id: int) -> list[str]:
    """What the bot shows in the group from ``message_id`` on (current texts, after edits)."""
    return [
        shown(m) for m in bot_messages(council.emu, council.group) if m.message_id >= message_id
    ]


def nudges(emu: BotApiEmulator, user: User) -> list[str]:
    return [shown(m) for m in emu.sent_to(user) if "投票" in shown(m)]


@pytest.mark.parametrize("how", ["ballot", "deadline"])
async def test_the_reminder_before_a_secret_ballot_closes_names_nobody_in_the_group(
    local: LocalBot, traveller: time_machine.Traveller, how: str
) -> None:
    council = await make_council(local)
    emu = council.emu
    voter, started, silent, blocked = council.members
    for user in (voter, started, blocked):
        await say(emu, user, user, "/start")
    emu.block_bot(blocked)  # … and one of them blocked it since: no private nudge possible
    await council.topic("物业费调整")
    if how == "ballot":
        ballot, _ = await council.ballot("secret 3h")
    else:
        ballot, _ = await council.ballot("secret")
        reply = await council.say(council.chair, "/deadline 3h")
        assert "截止" in (reply.text or ""), reply.text
    assert "无记名" in (ballot.text or "")
    assert RECORDED in ((await press(emu, voter, ballot, button(ballot, "赞成"))).text or "")
    await press(emu, council.chair, ballot, button(ballot, "反对"))

    await advance(local, traveller, timedelta(hours=1, seconds=1))  # 2 h before it closes
    await settle_jobs(local, runs=1)
    await settled(local)
    leaks = names_in(council, group_texts_since(council, ballot.message_id))
    assert leaks == [], leaks
    # A private nudge to the one who started the bot and has not voted is fine.
    assert len(nudges(emu, started)) == 1, emu.sent_to(started)
    assert nudges(emu, voter) == []

    # The closing at the deadline names nobody either.
    await advance(local, traveller, timedelta(hours=2))
    await settle_jobs(local, runs=2)
    outcome = [t for t in group_texts_since(council, ballot.message_id) if "表决结果" in t]
    assert len(outcome) == 1, outcome
    leaks = names_in(council, group_texts_since(council, ballot.message_id))
    assert leaks == [], leaks
    assert silent.first_name and blocked.first_name  # named nowhere above
    assert_clean(emu, allowed_errors=["403"])


async def test_the_reminder_before_an_open_ballot_closes_names_who_never_started_the_bot(
    local: LocalBot, traveller: time_machine.Traveller
) -> None:
    council = await make_council(local)
    emu = council.emu
    voter, started, silent, _ = council.members
    await say(emu, started, started, "/start")
    await council.topic()
    ballot, _ = await council.ballot("3h")
    await press(emu, voter, ballot, button(ballot, "赞成"))
    await advance(local, traveller, timedelta(hours=1, seconds=1))
    await settle_jobs(local, runs=1)
    await settled(local)
    reminders = [
        t for t in group_texts_since(council, ballot.message_id + 1) if silent.first_name in t
    ]
    assert reminders, tail(emu)
    named = " ".join(reminders)
    assert voter.first_name not in named and started.first_name not in named
    assert len(nudges(emu, started)) == 1


# --- 5. per-member limits ------------------------------------------------------------------


async def test_past_the_proposal_limit_propose_is_refused_and_nothing_is_posted(
    migrated_url: str,
) -> None:
    async with local_bot(migrated_url, limit_proposals_per_hour=2) as local:
        council = await make_council(local)
        emu = council.emu
        aunt, uncle = council.members[:2]
        card, topic_id = await council.topic()
        for text in ("建口袋花园", "建停车场"):
            posted = await council.say(aunt, f"/propose {text}")
            assert (posted.text or "").startswith("💡"), posted.text
        posted_before = len(bot_messages(emu, council.group))

        refused = await council.say(aunt, "/propose 建凉亭")
        assert refused.text == "⛔ 您在一小时内已经提了 2 条提案，请稍后再提。"
        assert len(bot_messages(emu, council.group)) == posted_before + 1  # just the refusal
        assert await proposals_of(local, topic_id) == ["建口袋花园", "建停车场"]

        # The long way round, through the private draft, is limited as well.
        start = await say(emu, aunt, aunt, "/start " + start_payload(url_buttons(card)[0]))
        if not (start.text or "").startswith("⛔"):
            await say(emu, aunt, aunt, "建儿童游乐区")
            done = await say(emu, aunt, aunt, "/done")
            assert (done.text or "").startswith("⛔"), done.text
        assert await proposals_of(local, topic_id) == ["建口袋花园", "建停车场"]

        # Someone else is not affected.
        other = await council.say(uncle, "/propose 建凉亭")
        assert (other.text or "").startswith("💡"), other.text
        assert_clean(emu)


async def test_past_the_request_limit_request_is_refused_and_no_offer_is_sent(
    migrated_url: str,
) -> None:
    async with local_bot(migrated_url, limit_requests_per_hour=2) as local:
        council = await make_council(local)
        emu = council.emu
        aunt, uncle, sister, master = council.members
        for volunteer in (uncle, sister):
            reply = await council.say(volunteer, "/volunteer 维修")
            assert (reply.text or "").startswith("🙋"), reply.text
            await say(emu, volunteer, volunteer, "/start")
        for n in range(2):
            received = await council.say(aunt, f"/request 维修 水管漏水{n}\n地点：3-2-302")
            assert (received.text or "").startswith("📨"), received.text
        await settled(local)
        offers_before = {u.id: len(emu.sent_to(u)) for u in (uncle, sister)}
        assert all(n >= 2 for n in offers_before.values()), offers_before
        group_before = len(bot_messages(emu, council.group))

        refused = await council.say(aunt, "/request 维修 水管又漏了\n地点：3-2-302")
        assert refused.text == ("⛔ 您在一小时内已经点了 2 次单，请稍后再点。急事请直接联系社区。")
        await settled(local)
        assert {u.id: len(emu.sent_to(u)) for u in (uncle, sister)} == offers_before
        assert len(bot_messages(emu, council.group)) == group_before + 1
        assert not any("水管又漏了" in shown(m) for u in (uncle, sister) for m in emu.sent_to(u))

        # Someone else may still order.
        other = await council.say(master, "/request 维修 门锁坏了\n地点：3-2-304")
        assert (other.text or "").startswith("📨"), other.text
        # Neither requester opened the bot: their receipts could not be sent privately.
        assert_clean(emu, allowed_errors=["initiate conversation"])


async def test_past_the_group_command_limit_one_notice_then_silence(migrated_url: str) -> None:
    limit = 4
    async with local_bot(
        migrated_url, limit_group_commands=limit, limit_group_window_minutes=10
    ) as local:
        council = await make_council(local)
        emu = council.emu
        aunt, uncle = council.members[:2]
        answered = 0
        notice: Message | None = None
        for _ in range(limit + 1):
            replies = await council.send(aunt, "/roll")
            assert len(replies) == 1, [m.text for m in replies]
            if (replies[0].text or "").startswith("⏳ "):
                notice = replies[0]
                break
            assert (replies[0].text or "").startswith("📋"), replies[0].text
            answered += 1
        assert notice is not None, tail(emu)
        # Her /join counted, or it did not: either way no more than the limit were answered.
        assert answered in (limit - 1, limit), answered

        for text in ("/roll", "/propose 再来一条", "/result"):
            silent = await council.send(aunt, text, expect_reply=False)
            assert silent == [], [m.text for m in silent]

        other = await council.say(uncle, "/roll")
        assert (other.text or "").startswith("📋"), other.text
        assert_clean(emu)


# --- 6. a group upgraded to a supergroup ---------------------------------------------------


async def test_a_council_moves_with_its_group_to_the_supergroup(
    local: LocalBot, traveller: time_machine.Traveller
) -> None:
    emu = local.emulator
    chair = emu.add_user("杨静")
    aunt, uncle = emu.add_user("张阿姨"), emu.add_user("李叔叔")
    old = emu.add_group(GROUP, admins=[chair], members=[aunt, uncle], supergroup=False)
    assert old.type == "group"
    assert (await say(emu, chair, old, "/setup")).text.startswith("✅")  # type: ignore[union-attr]
    for n, user in enumerate((chair, aunt, uncle), 1):
        assert ((await say(emu, user, old, f"/join 3-2-{300 + n}")).text or "").startswith("✅")
    await say(emu, chair, old, "/topic 空地做什么？")
    ballot = await say(emu, chair, old, "/ballot 3h")
    assert (ballot.text or "").startswith("🗳"), ballot.text
    await press(emu, aunt, ballot, button(ballot, "赞成"))
    await press(emu, uncle, ballot, button(ballot, "赞成"))
    await emu.wait_idle(quiet=QUIET)

    new = emu.upgrade_to_supergroup(old, by=chair)
    await emu.wait_idle(quiet=0.3)
    old_last = max(m.message_id for m in emu.messages(old))

    roll = await say(emu, aunt, new, "/roll")
    assert "3 人" in (roll.text or "") and "张阿姨" in (roll.text or ""), roll.text

    # The deadline passes: the outcome, sent by the bot on its own, goes to the new chat.
    await advance(local, traveller, timedelta(hours=3, seconds=1))
    await settle_jobs(local, runs=2)  # the nudge (skipped: late) and the closing
    await settled(local)
    outcomes = [shown(m) for m in bot_messages(emu, new) if "表决结果" in shown(m)]
    assert len(outcomes) == 1, tail(emu)
    assert "通过" in outcomes[0]

    card = await say(emu, chair, new, "/topic 活动室规则")
    assert (card.text or "").startswith("📌"), card.text
    proposal = await say(emu, aunt, new, "/propose 周末开放")
    assert (proposal.text or "").startswith("💡"), proposal.text

    # Nothing more went to the old chat, and nothing was refused for being sent there.
    assert [m for m in bot_messages(emu, old) if m.message_id > old_last] == []
    assert [e for e in api_errors(emu) if "migrat" in e.lower()] == [], api_errors(emu)


async def test_a_ballot_opened_before_the_upgrade_is_closed_in_the_supergroup(
    local: LocalBot,
) -> None:
    emu = local.emulator
    chair = emu.add_user("杨静")
    aunt = emu.add_user("张阿姨")
    old = emu.add_group(GROUP, admins=[chair], members=[aunt], supergroup=False)
    await say(emu, chair, old, "/setup")
    for n, user in enumerate((chair, aunt), 1):
        await say(emu, user, old, f"/join 3-2-{300 + n}")
    await say(emu, chair, old, "/topic 空地做什么？")
    ballot = await say(emu, chair, old, "/ballot")
    await press(emu, aunt, ballot, button(ballot, "赞成"))
    new = emu.upgrade_to_supergroup(old, by=chair)
    await emu.wait_idle(quiet=0.3)

    await send(emu, chair, new, "/close", expect_reply=False)
    await settled(local)
    async with local.database.uow() as uow:
        closed = not (await uow.ballots.get(1)).is_open  # type: ignore[union-attr]
    texts = [shown(m) for m in bot_messages(emu, new)]
    assert any("表决结果" in t and "通过" in t for t in texts), (closed, tail(emu))
    assert not any("出了问题" in t for t in all_texts(emu)), tail(emu)


async def test_a_topic_opened_before_the_upgrade_takes_proposals_in_the_supergroup(
    local: LocalBot,
) -> None:
    emu = local.emulator
    chair = emu.add_user("杨静")
    aunt, uncle = emu.add_user("张阿姨"), emu.add_user("李叔叔")
    old = emu.add_group(GROUP, admins=[chair], members=[aunt, uncle], supergroup=False)
    await say(emu, chair, old, "/setup")
    for n, user in enumerate((chair, aunt, uncle), 1):
        await say(emu, user, old, f"/join 3-2-{300 + n}")
    await say(emu, chair, old, "/topic 空地做什么？")
    new = emu.upgrade_to_supergroup(old, by=chair)
    await emu.wait_idle(quiet=0.3)

    replies = await send(emu, aunt, new, "/propose 建口袋花园", expect_reply=False)
    await settled(local)
    assert any(shown(m).startswith("💡") for m in replies), tail(emu)
    assert not any("出了问题" in t for t in all_texts(emu)), tail(emu)


async def test_a_supergroup_upgrade_does_not_disturb_other_councils(local: LocalBot) -> None:
    council = await make_council(local, residents=("张阿姨",))
    emu = local.emulator
    chair = emu.add_user("王主任")
    basic = emu.add_group("幸福里社区议事会", admins=[chair], supergroup=False)
    await say(emu, chair, basic, "/setup")
    new = emu.upgrade_to_supergroup(basic, by=chair)
    await emu.wait_idle(quiet=0.3)
    assert ((await say(emu, chair, new, "/join 1-1-101")).text or "").startswith("✅")
    roll = await council.say(council.members[0], "/roll")
    assert "2 人" in (roll.text or "") and "王主任" not in (roll.text or ""), roll.text


# --- 7. one SQLite file, one bot -----------------------------------------------------------


async def test_a_second_bot_on_the_same_sqlite_file_is_refused(
    emulator: BotApiEmulator, sqlite_url: str
) -> None:
    async with bot_on(emulator, sqlite_url) as first:
        council = await make_council(first, residents=("张阿姨",))
        with pytest.raises(DatabaseInUse) as refused:
            async with bot_on(emulator, sqlite_url):
                pytest.fail("a second bot started on the same SQLite file")
        message = str(refused.value)
        assert "in use" in message, message
        assert "postgres" in message.lower(), message
        # The first one is not disturbed.
        roll = await council.say(council.members[0], "/roll")
        assert "2 人" in (roll.text or ""), roll.text
    async with bot_on(emulator, sqlite_url) as second:
        council.local = second
        roll = await council.say(council.members[0], "/roll")
        assert "2 人" in (roll.text or ""), roll.text


async def test_a_bot_that_stopped_with_an_error_leaves_the_sqlite_file_free(
    emulator: BotApiEmulator, sqlite_url: str
) -> None:
    with pytest.raises(RuntimeError, match="crash"):
        async with bot_on(emulator, sqlite_url):
            raise RuntimeError("crash")
    async with bot_on(emulator, sqlite_url) as again:
        council = await make_council(again, residents=("张阿姨",))
        assert council.members
