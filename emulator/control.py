"""Driving the emulator from another process: JSON endpoints under ``/_control/``.

A benchmark must not run the emulator on the bot's event loop (each would slow the
other and the figures would flatter neither), so it starts the emulator as a process
of its own (``python -m emulator``) and plays the users through these endpoints; the
bot talks to it over the Bot API as to Telegram. They are served only when the
emulator is started with ``control=True``.

Every endpoint takes a JSON object by POST and answers ``{"ok": true, "result": …}``
(or ``{"ok": false, "error": …}`` with status 400, 504 on a timeout). Users and chats
are named by id; messages come back as :func:`message_json`. Times are
``time.monotonic()`` of this process, which on Linux is the system-wide monotonic
clock, so the caller may compare them with its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from emulator.models import CallbackAnswer, Message

if TYPE_CHECKING:
    from emulator.server import BotApiEmulator

Handler = Callable[["BotApiEmulator", dict[str, Any]], Awaitable[Any]]
_dumps = functools.partial(json.dumps, ensure_ascii=False)
_OPS: dict[str, Handler] = {}


def op(name: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        _OPS[name] = handler
        return handler

    return register


def message_json(message: Message) -> dict[str, Any]:
    return {
        "chat_id": message.chat.id,
        "message_id": message.message_id,
        "from_bot": message.from_bot,
        "from_id": message.from_user.id,
        "text": message.text,
        "caption": message.caption,
        "buttons": message.buttons,
    }


def add_routes(app: web.Application, emulator: BotApiEmulator) -> None:
    async def handle(request: web.Request) -> web.Response:
        handler = _OPS.get(request.match_info["op"])
        if handler is None:
            return _answer({"ok": False, "error": "no such control operation"}, 404)
        try:
            body = await request.json() if request.can_read_body else {}
            result = await handler(emulator, body)
        except TimeoutError as error:
            return _answer({"ok": False, "error": str(error) or "timed out"}, 504)
        except (KeyError, TypeError, ValueError) as error:  # a malformed request
            return _answer({"ok": False, "error": f"{type(error).__name__}: {error}"}, 400)
        return _answer({"ok": True, "result": result}, 200)

    app.router.add_post("/_control/{op}", handle)


def _answer(payload: dict[str, Any], status: int) -> web.Response:
    return web.json_response(payload, status=status, dumps=_dumps)


# --- the world ----------------------------------------------------------------------------


@op("add_users")
async def _add_users(emu: BotApiEmulator, body: dict[str, Any]) -> list[int]:
    """``users``: [{"first_name", "user_id"?, "language_code"?}] → their ids."""
    return [
        emu.add_user(
            u["first_name"],
            user_id=u.get("user_id"),
            language_code=u.get("language_code", "zh-hans"),
        ).id
        for u in body["users"]
    ]


@op("add_group")
async def _add_group(emu: BotApiEmulator, body: dict[str, Any]) -> int:
    """``title``, ``members`` / ``admins`` (ids), ``creator`` (id or null) → the chat id."""
    users = emu._engine.world.users
    creator = body.get("creator")
    return emu.add_group(
        body["title"],
        members=[users[i] for i in body.get("members", [])],
        admins=[users[i] for i in body.get("admins", [])],
        creator=users[creator] if creator is not None else None,
    ).id


@op("start_bot")
async def _start_bot(emu: BotApiEmulator, body: dict[str, Any]) -> None:
    """``user_ids``: these users opened the bot, which may now write to them."""
    users = emu._engine.world.users
    for user_id in body["user_ids"]:
        emu.start_bot(users[user_id])


@op("set_member_status")
async def _set_member_status(emu: BotApiEmulator, body: dict[str, Any]) -> None:
    """``user_id`` becomes ``status`` (creator, administrator, member, left, kicked) in
    ``chat_id``, by ``by`` (an id; the user themselves if absent)."""
    world = emu._engine.world
    by = body.get("by")
    emu.set_member_status(
        world.chats[body["chat_id"]],
        world.users[body["user_id"]],
        body["status"],
        by=world.users[by] if by is not None else None,
    )


@op("send_text")
async def _send_text(emu: BotApiEmulator, body: dict[str, Any]) -> dict[str, Any]:
    """``user_id`` writes ``text`` in ``chat_id``."""
    world = emu._engine.world
    message = await emu.send_text(
        world.users[body["user_id"]], world.chats[body["chat_id"]], body["text"]
    )
    return message_json(message)


# --- presses --------------------------------------------------------------------------------


@op("burst")
async def _burst(emu: BotApiEmulator, body: dict[str, Any]) -> dict[str, Any]:
    """``presses`` ([user id, callback_data] each) on message ``message_id`` of ``chat_id``,
    all at once; waits up to ``timeout`` s for the answers. Each press's latency runs from
    its update being queued to the bot's answerCallbackQuery, both in this process."""
    world = emu._engine.world
    message = world.get_message(body["chat_id"], body["message_id"])
    if message is None:
        raise ValueError("no such message")
    presses = body["presses"]
    answered: list[float | None] = [None] * len(presses)
    futures: list[asyncio.Future[CallbackAnswer]] = []
    started: list[float] = []

    def stamp(i: int, _future: asyncio.Future[CallbackAnswer]) -> None:
        answered[i] = time.monotonic()

    for i, (user_id, data) in enumerate(presses):
        started.append(time.monotonic())
        query_id = emu.press_later(world.users[user_id], message, data)
        future = emu._engine.queries[query_id].future
        future.add_done_callback(functools.partial(stamp, i))
        futures.append(future)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.wait(futures), body.get("timeout", 300.0))
    answers: list[dict[str, Any] | None] = []
    for future in futures:
        if future.done() and not future.cancelled() and future.exception() is None:
            answer = future.result()
            answers.append({"text": answer.text, "show_alert": answer.show_alert})
        else:
            answers.append(None)
    return {"started": started, "answered": answered, "answers": answers}


# --- what the bot did -------------------------------------------------------------------------


@op("events")
async def _events(emu: BotApiEmulator, body: dict[str, Any]) -> dict[str, Any]:
    """Bot messages and edits after event ``after`` (see ``event_seq``), waiting up to
    ``timeout`` s for the first; at most ``limit`` of them."""
    engine = emu._engine
    after = int(body.get("after", 0))
    deadline = time.monotonic() + float(body.get("timeout", 0.0))
    while len(engine.bot_events) <= after and (remaining := deadline - time.monotonic()) > 0:
        await engine.bot_signal.wait(remaining)
    events = engine.bot_events[after : after + int(body.get("limit", 10_000))]
    return {
        "seq": len(engine.bot_events),
        "events": [
            {"seq": e.seq, "kind": e.kind, "at": e.at, **message_json(e.message)} for e in events
        ],
    }


@op("messages")
async def _messages(emu: BotApiEmulator, body: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Current messages of each chat in ``chat_ids`` (after edits, without deleted ones)."""
    world = emu._engine.world
    return {str(c): [message_json(m) for m in world.messages(c)] for c in body["chat_ids"]}


@op("stats")
async def _stats(emu: BotApiEmulator, body: dict[str, Any]) -> dict[str, Any]:
    engine = emu._engine
    stats = emu.stats
    return {
        "calls": dict(stats.calls),
        "too_many_requests": stats.too_many_requests,
        "injected_429": stats.injected_429,
        "errors": {str(code): n for code, n in stats.errors.items()},
        "total_errors": stats.total_errors,
        "event_seq": emu.event_seq,
        "transcript": len(engine.transcript.entries),
        "touches": engine.touches,
        "unconfirmed": engine.world.unconfirmed(),
        "undelivered": engine.world.undelivered(),
        "cpu_s": time.process_time(),  # this process's CPU so far: the emulator's share
    }


@op("errors")
async def _errors(emu: BotApiEmulator, body: dict[str, Any]) -> list[str]:
    """The texts of the error replies logged after transcript entry ``since``."""
    entries = emu._engine.transcript.entries[int(body.get("since", 0)) :]
    return [e.text for e in entries if e.kind == "error"]


# --- faults and waiting -----------------------------------------------------------------------


@op("inject_429")
async def _inject_429(emu: BotApiEmulator, body: dict[str, Any]) -> None:
    emu.inject_429(float(body["ratio"]), int(body.get("seed", 0)))


@op("inject_failures")
async def _inject_failures(emu: BotApiEmulator, body: dict[str, Any]) -> None:
    emu.inject_failures(
        float(body["ratio"]),
        int(body.get("seed", 0)),
        after_share=float(body.get("after_share", 0.5)),
        spare=body.get("spare", ()),
        only=body.get("only", ()),
    )


@op("wait_confirmed")
async def _wait_confirmed(emu: BotApiEmulator, body: dict[str, Any]) -> int:
    """Until the bot has confirmed every update (it stores them first); returns the count
    of its calls so far, so that the caller can tell whether it called again while
    asking the bot itself if it is idle (see ``UserSimulation.wait_idle``)."""
    engine = emu._engine
    async with asyncio.timeout(float(body.get("timeout", 60.0))):
        while engine.world.unconfirmed():
            await engine.activity_signal.wait(1.0)
    return engine.touches


@op("wait_idle")
async def _wait_idle(emu: BotApiEmulator, body: dict[str, Any]) -> None:
    """Until every update was delivered and the bot made no call for ``quiet`` s."""
    await emu.wait_idle(
        quiet=float(body.get("quiet", 0.2)), timeout=float(body.get("timeout", 10.0))
    )
