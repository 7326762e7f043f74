"""The chat's side of the web, on the emulator: the topic card and the ballot open the
residents' page in Telegram (a ``t.me`` link with ``startapp`` in the group, a real
``web_app`` button in a private chat when the page is HTTPS), and a vote another
process wrote (``yishi web`` on its own) reaches the group's live tally on the
scheduler's tick."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest

from bot.telegram.local import LocalBot, local_bot
from domain import services
from emulator import Message
from storage.uow import Database
from tests.bot.conftest import (
    bot_messages,
    button,
    buttons,
    current,
    make_council,
    press,
    say,
    text_of,
    url_buttons,
)

WEB = "https://yishi.example.org"


def startapp(message: Message) -> list[str]:
    """The ``startapp`` of each link under ``message`` that opens the Mini App."""
    found = []
    for url in url_buttons(message):
        query = parse_qs(urlparse(url).query)
        if "startapp" in query:
            found += query["startapp"]
    return found


def web_apps(message: Message) -> list[str]:
    rows: list[list[dict[str, Any]]] = (message.reply_markup or {}).get("inline_keyboard") or []
    return [b["web_app"]["url"] for row in rows for b in row if "web_app" in b]


async def test_with_the_web_the_topic_card_and_the_ballot_open_the_mini_app(
    migrated_url: str,
) -> None:
    async with local_bot(migrated_url, web=True) as local:
        council = await make_council(local)
        emu, aunt = council.emu, council.members[0]
        card, topic_id = await council.topic("在东侧空地建口袋花园")
        bot = emu.bot_username
        assert url_buttons(current(emu, card))[-1] == f"https://t.me/{bot}?startapp=t{topic_id}"
        ballot, ballot_id = await council.ballot()
        assert startapp(ballot) == [f"b{ballot_id}"]
        assert url_buttons(ballot) == [f"https://t.me/{bot}?startapp=b{ballot_id}"]
        # The vote buttons come first, the page's link last; the link has no callback.
        assert [label for label, _ in buttons(ballot)] == ["✋ 赞成", "反对", "弃权"]
        assert [text for text, _ in ballot.buttons[-1]] == ["📱 在小程序中打开"]
        # The topic card, redrawn when voting began, keeps its link.
        assert startapp(current(emu, card)) == [f"t{topic_id}"]

        # The live tally's edits keep it; so does the frozen message of a closed ballot.
        await press(emu, aunt, ballot, button(ballot, "赞成"))
        await emu.wait_idle(quiet=0.2)
        assert "赞成 1" in text_of(emu, ballot)
        assert startapp(current(emu, ballot)) == [f"b{ballot_id}"]
        await emu.send_text(council.chair, council.group, "/close")
        # The outcome comes with its chart, which takes a while to draw on a busy machine.
        for _ in range(600):
            replies = [m for m in bot_messages(emu, council.group) if m.reply_to_message_id]
            if any(m.reply_to_message_id == ballot.message_id for m in replies):
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("no outcome in a minute")
        await emu.wait_idle(quiet=0.2, timeout=30)
        frozen = current(emu, ballot)
        assert buttons(frozen) == [] and startapp(frozen) == [f"b{ballot_id}"]
        # The page's address is plain HTTP here: no web_app button anywhere (Telegram
        # would refuse it), and no API error was met.
        assert all(not web_apps(m) for m in emu.messages(council.group))


async def test_without_the_web_no_mini_app_button(local: LocalBot) -> None:
    council = await make_council(local)
    emu = council.emu
    card, _ = await council.topic("在东侧空地建口袋花园")
    ballot, _ = await council.ballot()
    assert startapp(ballot) == [] and url_buttons(ballot) == []
    assert [label for label, _ in buttons(ballot)] == ["✋ 赞成", "反对", "弃权"]
    assert startapp(current(emu, card)) == []


async def test_a_private_notice_has_a_web_app_button_when_the_page_is_https(
    migrated_url: str,
) -> None:
    async with local_bot(migrated_url, web=True, web_url=WEB) as local:
        council = await make_council(local)
        emu, chair, aunt = council.emu, council.chair, council.members[0]
        for user in (chair, aunt):
            emu.start_bot(user)
            await say(emu, user, user, "/start")  # the bot now knows it may write
        await council.topic("口袋花园由谁来维护？")
        ballot, ballot_id = await council.ballot()
        # In the group, still a link: a web_app button there would be refused.
        assert startapp(ballot) == [f"b{ballot_id}"] and web_apps(ballot) == []
        entered = await say(emu, chair, chair, "/assist 3-2-302 反对 入户走访，本人口述")
        assert entered.text is not None and "已私信告知本人" in entered.text
        notice = bot_messages(emu, aunt)[-1]
        assert web_apps(notice) == [f"{WEB}/app?to=b{ballot_id}"]
        # Its vote buttons still work beside it.
        changed = await press(emu, aunt, notice, button(notice, "赞成"))
        assert changed.text == "已改为：赞成（原为：反对）"


async def test_a_vote_from_another_process_reaches_the_live_tally_on_the_tick(
    migrated_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The scheduler's heartbeat is the test's to give (it would tick every 10 s).
    async with local_bot(migrated_url, scheduler_poll=3600) as local:
        await _another_process(local, monkeypatch)


async def _another_process(local: LocalBot, monkeypatch: pytest.MonkeyPatch) -> None:
    council = await make_council(local)
    emu, aunt = council.emu, council.members[0]
    await council.topic("在东侧空地建口袋花园")
    ballot, ballot_id = await council.ballot()
    await council.topic("楼道里加装扶手")
    other, _ = await council.ballot()  # a second open ballot, nobody votes on it
    assert "赞成 0" in text_of(emu, ballot)

    # The web in a process of its own: its own connection to the same database, so its
    # VoteCast never reaches the bot's bus.
    web = await Database.open(local.database.url)
    try:
        await services.cast_vote(
            web.uow(), ballot_id=ballot_id, user_id=aunt.id, choice="for", now=local.deps.clock()
        )
    finally:
        await web.dispose()
    await asyncio.sleep(0.3)
    await emu.wait_idle(quiet=0.2)
    assert "赞成 0" in text_of(emu, ballot)  # nothing told this process

    refresher = local.deps.refresher
    requested: list[int] = []
    original = refresher.request

    def request(ballot_id: int) -> None:
        requested.append(ballot_id)
        original(ballot_id)

    monkeypatch.setattr(refresher, "request", request)
    assert local.deps.scheduler.leadership.is_leader
    await local.deps.scheduler.tick()
    await refresher.drain()
    await emu.wait_idle(quiet=0.2)
    shown = text_of(emu, ballot)
    assert "赞成 1" in shown and "已参与 1/" in shown
    assert "赞成 0" in text_of(emu, other)
    assert requested == [ballot_id]  # only the ballot behind, not every open one

    # Caught up: the next tick asks for nothing.
    await local.deps.scheduler.tick()
    await refresher.drain()
    assert requested == [ballot_id]


async def test_with_the_web_cards_from_the_chat_carry_the_households_key(
    migrated_url: str, tmp_path: Path
) -> None:
    """``/cards`` in a private chat, the web on: each card's second QR code is the web
    page with the household's login key, and scanning it signs a browser in there."""
    from tests.bot.test_binding_e2e import ROSTER, cards_of, pdf_cards, roster

    async with local_bot(migrated_url, web=True) as local:
        assert local.web_url is not None
        council = await make_council(local, residents=("张阿姨",))
        emu, chair = council.emu, council.chair
        emu.start_bot(chair)
        await roster(council)
        cards = pdf_cards(council, await cards_of(council, chair, tmp_path), tmp_path)
        assert len(cards) == len(ROSTER)
        for card, (name, *_address) in zip(cards, ROSTER, strict=True):
            assert name in card.text and "微信或浏览器扫码进入" in card.text
            assert card.web is not None and card.web.startswith(f"{local.web_url}/k/")
            async with httpx.AsyncClient(base_url=local.web_url) as browser:
                shown = await browser.get(card.web.removeprefix(local.web_url))
                found = re.search(r'name="form_token" value="([0-9a-f]+)"', shown.text)
                assert found, shown.text
                signed = await browser.post(
                    card.web.removeprefix(local.web_url),
                    data={"form_token": found.group(1)},
                    headers={"origin": local.web_url},
                )
                assert signed.status_code == 303 and signed.headers["location"] == "/r"
                assert name in (await browser.get("/r")).text
