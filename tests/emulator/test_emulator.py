"""The Bot API emulator, driven by a real PTB ``Bot`` / ``Application`` over HTTP."""

from __future__ import annotations

import asyncio
import datetime as dt
import html
import json
import sys
import time
import warnings
from collections.abc import AsyncIterator

import httpx
import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest, Forbidden, RetryAfter
from telegram.ext import (
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
)

from emulator import DEFAULT_TOKEN, BotApiEmulator, Message, RateLimits, User
from emulator.errors import ApiError
from emulator.html import parse_html


@pytest.fixture
async def emu() -> AsyncIterator[BotApiEmulator]:
    async with BotApiEmulator() as emulator:
        yield emulator


@pytest.fixture
async def bot(emu: BotApiEmulator) -> AsyncIterator[Bot]:
    async with Bot(DEFAULT_TOKEN, base_url=emu.base_url, base_file_url=emu.base_file_url) as b:
        yield b


def retry_seconds(error: RetryAfter) -> float:
    with warnings.catch_warnings():  # PTB 22 warns that retry_after becomes a timedelta
        warnings.simplefilter("ignore")
        value = error.retry_after
    return value.total_seconds() if isinstance(value, dt.timedelta) else float(value)


def keyboard(*buttons: tuple[str, str]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(text, callback_data=data) for text, data in buttons]]
    )


async def test_get_me(bot: Bot, emu: BotApiEmulator) -> None:
    me = await bot.get_me()
    assert (me.id, me.username, me.is_bot) == (123456789, "yishi_bot", True)
    assert emu.deep_link("join-42") == "https://t.me/yishi_bot?start=join-42"


async def test_send_message_parses_html_and_stores_markup(bot: Bot, emu: BotApiEmulator) -> None:
    auntie = emu.add_user("张阿姨")
    group = emu.add_group("小院议事会", members=[auntie])
    sent = await bot.send_message(
        group.id,
        "<b>议题</b>：修车棚 &lt;急&gt; 😀<i>投票</i>\n",
        parse_mode="HTML",
        reply_markup=keyboard(("赞成 (0)", "v:1:yes"), ("反对 (0)", "v:1:no")),
    )
    assert sent.text == "议题：修车棚 <急> 😀投票"  # tags gone, entities decoded, trimmed
    assert [(e.type, e.offset, e.length) for e in sent.entities] == [
        ("bold", 0, 2),
        ("italic", 13, 2),  # the emoji counts as two UTF-16 units
    ]
    stored = emu.last_bot_message(group)
    assert stored is not None and stored.message_id == sent.message_id
    assert stored.buttons == [[("赞成 (0)", "v:1:yes"), ("反对 (0)", "v:1:no")]]
    assert "[小院议事会] 🤖 Yishi" in emu.transcript.render()
    assert "↳ buttons: [赞成 (0)] [反对 (0)]" in emu.transcript.render()


async def test_text_length_is_counted_in_utf16(bot: Bot, emu: BotApiEmulator) -> None:
    group = emu.add_group("g")
    await bot.send_message(group.id, "a" * 4096)
    await bot.send_message(group.id, "😀" * 2048)
    with pytest.raises(BadRequest, match="Message is too long"):
        await bot.send_message(group.id, "a" * 4097)
    with pytest.raises(BadRequest, match="Message is too long"):
        await bot.send_message(group.id, "😀" * 2049)
    with pytest.raises(BadRequest, match="Message text is empty"):
        await bot.send_message(group.id, "<b> </b>\n", parse_mode="HTML")


@pytest.mark.parametrize(
    "text",
    ["<b>x", "a < b", "Tom & Jerry", "<b>x</i>", "<script>x</script>", "x</b>"],
)
async def test_bad_html_is_rejected(bot: Bot, emu: BotApiEmulator, text: str) -> None:
    group = emu.add_group("g")
    with pytest.raises(BadRequest, match="Can't parse entities"):
        await bot.send_message(group.id, text, parse_mode="HTML")
    # Escaping user text is the fix.
    await bot.send_message(group.id, html.escape(text), parse_mode="HTML")
    assert emu.messages(group)[-1].text == text


def test_html_parser_details() -> None:
    parsed = parse_html(
        '<pre><code class="language-python">x = 1</code></pre>'
        '<a href="https://e.x?a=1&amp;b=2">l</a>'
    )
    assert parsed.text == "x = 1l"
    assert parsed.entities == [
        {"type": "pre", "offset": 0, "length": 5, "language": "python"},
        {"type": "text_link", "offset": 5, "length": 1, "url": "https://e.x?a=1&b=2"},
    ]
    spoiler = parse_html('<span class="tg-spoiler">s</span><blockquote expandable>q</blockquote>')
    assert [e["type"] for e in spoiler.entities] == ["spoiler", "expandable_blockquote"]
    with pytest.raises(ApiError, match='expected "</i>", found "</b>"'):
        parse_html("<b><i>x</b></i>")
    assert parse_html("&#128512;&#x41;&quot;").text == '😀A"'
    assert parse_html("Tom & Jerry", strict_ampersand=False).text == "Tom & Jerry"


async def test_callback_data_over_64_bytes(bot: Bot, emu: BotApiEmulator) -> None:
    group = emu.add_group("g")
    await bot.send_message(group.id, "ok", reply_markup=keyboard(("a", "x" * 64)))
    with pytest.raises(BadRequest, match="Button_data_invalid"):
        # 22 CJK characters are 66 UTF-8 bytes although only 22 characters.
        await bot.send_message(group.id, "no", reply_markup=keyboard(("a", "赞" * 22)))


async def test_edit_rules(bot: Bot, emu: BotApiEmulator) -> None:
    auntie = emu.add_user("张阿姨")
    group = emu.add_group("g", members=[auntie])
    markup = keyboard(("赞成 (0)", "yes"))
    sent = await bot.send_message(group.id, "<b>vote</b>", parse_mode="HTML", reply_markup=markup)
    with pytest.raises(BadRequest, match="Message is not modified"):
        await bot.edit_message_text(
            "<b>vote</b>", group.id, sent.message_id, parse_mode="HTML", reply_markup=markup
        )
    with pytest.raises(BadRequest, match="Message is not modified"):
        await bot.edit_message_reply_markup(group.id, sent.message_id, reply_markup=markup)
    # Same text but plain (no bold entity) counts as a change.
    await bot.edit_message_text("vote", group.id, sent.message_id, reply_markup=markup)
    # Omitting reply_markup removes the keyboard, as on Telegram.
    edited = await bot.edit_message_text("vote!", group.id, sent.message_id)
    assert not isinstance(edited, bool)
    assert edited.reply_markup is None and emu.messages(group)[-1].buttons == []
    with pytest.raises(BadRequest, match="Message to edit not found"):
        await bot.edit_message_text("x", group.id, 999)
    theirs = await emu.send_text(auntie, group, "hello")
    with pytest.raises(BadRequest, match="Message can't be edited"):
        await bot.edit_message_text("x", group.id, theirs.message_id)
    assert emu.stats.edited[group.id] == 2


async def test_private_chat_permissions(bot: Bot, emu: BotApiEmulator) -> None:
    stranger = emu.add_user("李叔叔")
    with pytest.raises(Forbidden, match="bot can't initiate conversation with a user"):
        await bot.send_message(stranger.id, "hi")
    emu.start_bot(stranger)
    await bot.send_message(stranger.id, "hi")
    emu.block_bot(stranger)
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(stranger.id, "hi")
    with pytest.raises(BadRequest, match="Chat not found"):
        await bot.send_message(-100999, "hi")
    assert [m.text for m in emu.sent_to(stranger)] == ["hi"]
    assert emu.stats.errors[403] == 2


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_group_flood_control_returns_retry_after(bot: Bot, emu: BotApiEmulator) -> None:
    group = emu.add_group("g")
    with pytest.raises(RetryAfter) as caught:
        for i in range(30):
            await bot.send_message(group.id, f"spam {i}")
    assert retry_seconds(caught.value) >= 1
    assert 20 <= emu.stats.sent[group.id] < 30
    assert emu.stats.too_many_requests == 1


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_injected_429_and_unlimited_mode() -> None:
    limits = RateLimits(enabled=False)
    async with (
        BotApiEmulator(limits=limits) as emu,
        Bot(DEFAULT_TOKEN, base_url=emu.base_url) as bot,
    ):
        group = emu.add_group("g")
        for i in range(40):
            await bot.send_message(group.id, str(i))
        emu.inject_429(1.0, seed=7)
        with pytest.raises(RetryAfter) as caught:
            await bot.send_message(group.id, "x")
        assert retry_seconds(caught.value) == 1
        assert emu.stats.injected_429 == 1


async def test_long_poll_wakes_up_and_redeliver(bot: Bot, emu: BotApiEmulator) -> None:
    auntie = emu.add_user("张阿姨")
    poll = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.05)
    started = time.monotonic()
    await emu.send_text(auntie, auntie, "/join 3-2-301")
    (update,) = await poll
    assert time.monotonic() - started < 1
    assert update.message is not None and update.message.text == "/join 3-2-301"
    assert update.message.entities[0].type == "bot_command"
    # Unconfirmed updates come back; confirmed ones do not.
    again = await bot.get_updates(timeout=0)
    assert [u.update_id for u in again] == [update.update_id]
    assert await bot.get_updates(offset=update.update_id + 1, timeout=0) == ()
    emu.redeliver(update.update_id)
    (duplicate,) = await bot.get_updates(offset=update.update_id + 1, timeout=0)
    assert duplicate.update_id == update.update_id
    assert await bot.get_updates(offset=update.update_id + 1, timeout=0) == ()


async def test_commands_per_scope_and_language(bot: Bot, emu: BotApiEmulator) -> None:
    await bot.set_my_commands([("join", "加入小区")], language_code="zh")
    await bot.set_my_commands([("join", "Join your estate")], language_code="en")
    await bot.set_my_commands([("help", "Help")])
    zh = await bot.get_my_commands(language_code="zh")
    assert [(c.command, c.description) for c in zh] == [("join", "加入小区")]
    assert emu.commands(language_code="en") == [("join", "Join your estate")]
    assert emu.commands() == [("help", "Help")]
    with pytest.raises(BadRequest):
        await bot.set_my_commands([("Join", "uppercase is invalid")])
    await bot.delete_my_commands(language_code="zh")
    assert emu.commands(language_code="zh") == []


async def test_press_round_trip_with_application(emu: BotApiEmulator) -> None:
    tally = {"yes": 0}

    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_html(
            "<b>修车棚？</b>", reply_markup=keyboard(("赞成 (0)", "vote:yes"))
        )

    async def vote(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None
        tally["yes"] += 1
        await query.answer("已记录：赞成")
        await query.edit_message_text(
            "<b>修车棚？</b>",
            parse_mode="HTML",
            reply_markup=keyboard((f"赞成 ({tally['yes']})", "vote:yes")),
        )

    app = (
        ApplicationBuilder()
        .token(DEFAULT_TOKEN)
        .base_url(emu.base_url)
        .base_file_url(emu.base_file_url)
        .build()
    )
    app.add_handler(CommandHandler("start", start))
    app.add_handler(CallbackQueryHandler(vote))
    auntie, uncle = emu.add_user("张阿姨"), emu.add_user("李叔叔")
    group = emu.add_group("小院议事会", members=[auntie, uncle])
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0, timeout=1)
        try:
            await emu.send_text(auntie, group, "/start@yishi_bot")
            ballot = await emu.wait_for_bot_message(group)
            mark = emu.event_seq
            answer = await emu.press(uncle, ballot, "vote:yes")
            assert (answer.text, answer.show_alert) == ("已记录：赞成", False)
            edited = await emu.wait_for_bot_message(group, after=mark)
            assert edited.buttons == [[("赞成 (1)", "vote:yes")]]
            with pytest.raises(ValueError, match="no button"):
                await emu.press(uncle, edited, "vote:no")
            forged = await emu.press(uncle, edited, "vote:no", forge=True)
            assert forged.text == "已记录：赞成"
            await emu.wait_idle(quiet=0.1)
        finally:
            await app.updater.stop()
            await app.stop()
    text = emu.transcript.render()
    assert "[小院议事会] 张阿姨: /start@yishi_bot" in text
    assert '✋ 李叔叔 pressed 「赞成 (0)」 on #2 → "已记录：赞成"' in text
    assert "[小院议事会] 🤖 (edited #2): 修车棚？" in text


async def test_answer_callback_query_rules(bot: Bot, emu: BotApiEmulator) -> None:
    uncle = emu.add_user("李叔叔")
    emu.start_bot(uncle)
    sent = await bot.send_message(uncle.id, "?", reply_markup=keyboard(("ok", "ok")))
    press = asyncio.create_task(emu.press(uncle, sent_message(emu, uncle), "ok", timeout=2))
    (update,) = await bot.get_updates(timeout=2)
    assert update.callback_query is not None and update.callback_query.data == "ok"
    assert update.callback_query.message is not None
    assert update.callback_query.message.message_id == sent.message_id
    with pytest.raises(BadRequest, match="Message_too_long"):
        await bot.answer_callback_query(update.callback_query.id, "x" * 201)
    await bot.answer_callback_query(update.callback_query.id, "好", show_alert=True)
    assert (await press).show_alert is True
    with pytest.raises(BadRequest, match="Query is too old"):
        await bot.answer_callback_query(update.callback_query.id)
    with pytest.raises(TimeoutError, match="did not answer"):
        await emu.press(uncle, sent_message(emu, uncle), "ok", timeout=0.05)


def sent_message(emu: BotApiEmulator, user: User) -> Message:
    message = emu.last_bot_message(user)
    assert message is not None
    return message


async def test_documents_threads_pins_and_raw_http(bot: Bot, emu: BotApiEmulator) -> None:
    admin = emu.add_user("王主任")
    forum = emu.add_group("楼栋", forum=True, admins=[admin], bot_is_admin=False)
    asked = await emu.send_text(admin, forum, "纪要？", thread_id=7)
    reply = await bot.send_document(
        forum.id,
        b"a,b\n1,2\n",
        filename="minutes.csv",
        caption="<i>纪要</i>",
        parse_mode="HTML",
        message_thread_id=7,
        reply_to_message_id=asked.message_id,
    )
    assert reply.document is not None and reply.document.file_name == "minutes.csv"
    assert reply.message_thread_id == 7 and reply.caption == "纪要"
    data = await (await bot.get_file(reply.document.file_id)).download_as_bytearray()
    assert bytes(data) == b"a,b\n1,2\n"
    with pytest.raises(BadRequest, match="Not enough rights"):
        await bot.pin_chat_message(forum.id, reply.message_id)
    forum.bot_is_admin = True
    assert await bot.pin_chat_message(forum.id, reply.message_id)
    member = await bot.get_chat_member(forum.id, admin.id)
    assert member.status == "administrator"
    async with httpx.AsyncClient() as client:
        missing = await client.post(f"{emu.base_url}{DEFAULT_TOKEN}/fooBar")
        wrong = await client.post(f"{emu.base_url}1:wrong/getMe")
        as_json = await client.post(
            f"{emu.base_url}{DEFAULT_TOKEN}/sendMessage",
            json={"chat_id": forum.id, "text": "json body", "message_thread_id": 7},
        )
    assert (missing.status_code, missing.json()["description"]) == (404, "Not Found")
    assert (wrong.status_code, wrong.json()["error_code"]) == (401, 401)
    assert as_json.json()["result"]["message_thread_id"] == 7


async def test_delete_message_needs_an_admin_with_the_right_for_others_messages(
    bot: Bot, emu: BotApiEmulator
) -> None:
    aunt = emu.add_user("张阿姨")
    plain = emu.add_group("不是管理员", members=[aunt], bot_is_admin=False)
    no_right = emu.add_group("没有删除权限", members=[aunt], bot_can_delete_messages=False)
    admin = emu.add_group("管理员", members=[aunt])
    for group in (plain, no_right):
        said = await emu.send_text(aunt, group, "/request 维修 6-3-501")
        with pytest.raises(BadRequest, match="can't be deleted"):
            await bot.delete_message(group.id, said.message_id)
        assert [m.text for m in emu.messages(group)] == ["/request 维修 6-3-501"]
        own = await bot.send_message(group.id, "已收到")
        assert await bot.delete_message(group.id, own.message_id)  # its own: always
    said = await emu.send_text(aunt, admin, "/request 维修 6-3-501")
    assert await bot.delete_message(admin.id, said.message_id)
    assert emu.messages(admin) == []
    assert f"[管理员] 🗑 deleted #{said.message_id}" in emu.transcript.render()
    with pytest.raises(BadRequest, match="Message to delete not found"):
        await bot.delete_message(admin.id, said.message_id)


async def test_a_user_edits_their_message(bot: Bot, emu: BotApiEmulator) -> None:
    """An edit reaches the bot as ``edited_message``: the same message id, the new text
    with its command entity, and an ``edit_date``; nobody edits another's message."""
    auntie, uncle = emu.add_user("张阿姨"), emu.add_user("李叔叔")
    group = emu.add_group("议事会", members=[auntie, uncle])
    sent = await emu.send_text(auntie, group, "/propose 修长椅")
    edited = await emu.edit_text(auntie, sent, "/propose 修长椅和路灯")
    first, second = await bot.get_updates(timeout=0)
    assert first.message is not None and first.message.text == "/propose 修长椅"
    update = second.edited_message
    assert update is not None and second.message is None
    assert (update.message_id, update.chat_id) == (sent.message_id, group.id)
    assert update.text == "/propose 修长椅和路灯" and update.edit_date is not None
    assert [(e.type, e.offset, e.length) for e in update.entities] == [("bot_command", 0, 8)]
    assert edited.text == emu.messages(group)[-1].text == "/propose 修长椅和路灯"
    assert "张阿姨 (edited #1): /propose 修长椅和路灯" in emu.transcript.render()
    # Edited into plain text: no command any more. In a private chat, by message id.
    await emu.edit_text(auntie, sent, "修长椅")
    said = await emu.send_text(auntie, auntie, "草稿第一段")
    await emu.edit_text(auntie, said.message_id, "草稿第一段（改）")
    plain, _, private = await bot.get_updates(offset=second.update_id + 1, timeout=0)
    assert plain.edited_message is not None and plain.edited_message.entities == ()
    assert private.edited_message is not None
    assert private.edited_message.chat.type == "private"
    assert private.edited_message.text == "草稿第一段（改）"
    with pytest.raises(ValueError, match="cannot edit another's message"):
        await emu.edit_text(uncle, sent, "/propose 改成停车场")


async def control(client: httpx.AsyncClient, base: str, op: str, **body: object) -> object:
    """Call an endpoint of ``emulator/control.py``; its result, or an AssertionError."""
    response = await client.post(f"{base}/_control/{op}", json=body)
    payload = response.json()
    assert response.status_code == 200 and payload["ok"], payload
    return payload["result"]


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_the_control_endpoints_play_the_users_from_another_process() -> None:
    """What a benchmark does through ``/_control/`` (the emulator in a process of its own):
    users, a group, a command the bot receives, its reply as an event with a time, a burst
    of presses answered with their latencies, stats, errors, injected 429s."""
    async with (
        BotApiEmulator(control=True) as emu,
        Bot(DEFAULT_TOKEN, base_url=emu.base_url) as bot,
        httpx.AsyncClient() as client,
    ):
        base = emu.base_url.removesuffix("/bot")
        ids = await control(
            client,
            base,
            "add_users",
            users=[{"first_name": "主持人", "user_id": 500}, {"first_name": "张阿姨"}],
        )
        assert isinstance(ids, list) and ids[0] == 500 and ids[1] in emu._engine.world.users
        chair, auntie = ids
        group = await control(
            client, base, "add_group", title="议事会", members=[auntie], creator=chair
        )
        assert isinstance(group, int)
        sent = await control(
            client, base, "send_text", user_id=chair, chat_id=group, text="/ballot"
        )
        assert isinstance(sent, dict) and sent["text"] == "/ballot" and not sent["from_bot"]
        (update,) = await bot.get_updates(timeout=0)
        assert update.message is not None and update.message.text == "/ballot"

        before = time.monotonic()
        reply = await bot.send_message(group, "表决", reply_markup=keyboard(("赞成", "v:yes")))
        events = await control(client, base, "events", after=0, timeout=5)
        assert isinstance(events, dict) and events["seq"] == 1
        (event,) = events["events"]
        assert (event["kind"], event["message_id"], event["buttons"]) == (
            "sent",
            reply.message_id,
            [[["赞成", "v:yes"]]],  # rows of [text, callback_data]
        )
        assert before <= event["at"] <= time.monotonic()  # one clock for both processes

        async def answer_two() -> int:
            answered = 0
            offset = update.update_id + 1
            while answered < 2:
                for pressed in await bot.get_updates(offset=offset, timeout=1):
                    offset = pressed.update_id + 1
                    assert pressed.callback_query is not None
                    await pressed.callback_query.answer("已记录")
                    answered += 1
            return offset

        answering = asyncio.create_task(answer_two())
        burst = await control(
            client,
            base,
            "burst",
            chat_id=group,
            message_id=reply.message_id,
            presses=[[chair, "v:yes"], [auntie, "v:yes"]],
            timeout=10,
        )
        await bot.get_updates(offset=await answering, timeout=0)  # confirms the presses
        assert isinstance(burst, dict)
        assert burst["answers"] == [{"text": "已记录", "show_alert": False}] * 2
        assert all(a >= s for s, a in zip(burst["started"], burst["answered"], strict=True))

        await control(client, base, "start_bot", user_ids=[auntie])
        await bot.send_message(auntie, "你好")
        await control(client, base, "inject_429", ratio=1.0, seed=1)
        with pytest.raises(RetryAfter):
            await bot.send_message(auntie, "again")
        stats = await control(client, base, "stats")
        assert isinstance(stats, dict)
        assert (stats["injected_429"], stats["calls"]["answerCallbackQuery"]) == (1, 2)
        assert not stats["unconfirmed"] and stats["cpu_s"] > 0
        errors = await control(client, base, "errors", since=0)
        assert errors == ["sendMessage → 429 Too Many Requests: retry after 1"]
        private = await control(client, base, "messages", chat_ids=[auntie])
        assert isinstance(private, dict)
        assert [m["text"] for m in private[str(auntie)]] == ["你好"]
        touches = await control(client, base, "wait_confirmed", timeout=1)
        assert touches == stats["touches"]

        unknown = await client.post(f"{base}/_control/nothing", json={})
        malformed = await client.post(f"{base}/_control/send_text", json={"user_id": 1})
        assert (unknown.status_code, malformed.status_code) == (404, 400)
        emu.inject_429(0)


async def test_control_endpoints_are_off_unless_asked_for(emu: BotApiEmulator) -> None:
    async with httpx.AsyncClient() as client:
        response = await client.post(f"{emu.base_url.removesuffix('/bot')}/_control/stats")
    assert response.status_code == 404


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_the_emulator_runs_as_a_process_of_its_own() -> None:
    """``python -m emulator`` says where it listens, serves the Bot API with the limits it
    was given and the control endpoints, and stops when its standard input closes."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "emulator",
        "--limits",
        json.dumps({"group_per_minute": 2}),
        "--until-stdin-closes",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert process.stdin is not None and process.stdout is not None
    try:
        ready = json.loads(await asyncio.wait_for(process.stdout.readline(), 30))
        async with Bot(DEFAULT_TOKEN, base_url=ready["base_url"]) as bot:
            assert (await bot.get_me()).username == "yishi_bot"
            async with httpx.AsyncClient() as client:
                base = ready["base_url"].removesuffix("/bot")
                group = await control(client, base, "add_group", title="g")
                assert isinstance(group, int)
                for text in "123":  # 2 a minute, and 1 more for the network's jitter
                    await bot.send_message(group, text)
                with pytest.raises(RetryAfter):  # the limits came through
                    await bot.send_message(group, "4")
    finally:
        process.stdin.close()
        code = await asyncio.wait_for(process.wait(), 15)
    assert code == 0


async def test_a_user_sends_a_file_and_the_bot_downloads_it(bot: Bot, emu: BotApiEmulator) -> None:
    """A document reaches the bot with its name, type and size; getFile and the file URL
    give its bytes back; Telegram's 20 MB limit on a bot's downloads holds."""
    staff, other = emu.add_user("王社工"), emu.add_user("李叔叔")
    data = "姓名,地址\n张三,3-2-301\n".encode("gb18030")
    sent = await emu.send_document(staff, staff, "名册.csv", data, mime_type="text/csv")
    captioned = await emu.send_document(staff, staff, "票.xlsx", b"PK\x03\x04", caption="/paper 3")
    (plain, with_caption) = await bot.get_updates(timeout=0)
    assert plain.message is not None and plain.message.document is not None
    document = plain.message.document
    assert (document.file_name, document.mime_type, document.file_size) == (
        "名册.csv",
        "text/csv",
        len(data),
    )
    assert plain.message.caption is None and plain.message.chat.type == "private"
    assert bytes(await (await bot.get_file(document.file_id)).download_as_bytearray()) == data
    message = with_caption.message
    assert message is not None and message.caption == "/paper 3"
    assert [(e.type, e.offset, e.length) for e in message.caption_entities] == [
        ("bot_command", 0, 6)
    ]
    assert sent.document is not None and captioned.document is not None
    assert "王社工: 📎 名册.csv" in emu.transcript.render()
    big = await emu.send_document(staff, staff, "big.xlsx", b"0" * (20 * 1024 * 1024 + 1))
    assert big.document is not None
    with pytest.raises(BadRequest, match=r"(?i)file is too big"):
        await bot.get_file(big.document["file_id"])
    with pytest.raises(ValueError, match="another user's private chat"):
        await emu.send_document(staff, other, "x.csv", b"a")
    # The bot answers the file with buttons; a press brings the file's message along.
    question = await bot.send_message(
        staff.id,
        "哪个议事会？",
        reply_to_message_id=sent.message_id,
        reply_markup=keyboard(("杨家园", "rc:1")),
    )
    await bot.get_updates(offset=with_caption.update_id + 1, timeout=0)  # the file's, read
    emu.press_later(staff, sent_message(emu, staff), "rc:1")
    (press,) = await bot.get_updates(offset=with_caption.update_id + 2, timeout=0)
    assert press.callback_query is not None
    pressed = press.callback_query.message
    assert pressed is not None and pressed.message_id == question.message_id
    replied = getattr(pressed, "reply_to_message", None)
    assert replied is not None and replied.document is not None
    assert replied.document.file_id == document.file_id
