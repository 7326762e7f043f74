"""Bot API methods about the bot itself, updates, commands and chat information."""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

from emulator.engine import Engine
from emulator.errors import ApiError, bad_request
from emulator.limits import (
    MAX_COMMAND_DESCRIPTION,
    MAX_COMMANDS,
    MAX_DESCRIPTION,
    MAX_SHORT_DESCRIPTION,
    MAX_UPDATES_PER_CALL,
)
from emulator.models import Chat, MemberStatus, User
from emulator.params import Params
from emulator.state import CommandKey

Handler = Callable[[Engine, Params], Awaitable[Any]]
_COMMAND = re.compile(r"[a-z0-9_]{1,32}")
_LANGUAGE = re.compile(r"(?:[a-z]{2})?")
_SCOPES = frozenset(
    {
        "default",
        "all_private_chats",
        "all_group_chats",
        "all_chat_administrators",
        "chat",
        "chat_administrators",
        "chat_member",
    }
)
_ADMIN_RIGHTS = (
    "can_manage_chat",
    "can_delete_messages",
    "can_manage_video_chats",
    "can_restrict_members",
    "can_promote_members",
    "can_change_info",
    "can_invite_users",
    "can_post_stories",
    "can_edit_stories",
    "can_delete_stories",
    "can_pin_messages",
    "can_manage_topics",
)


async def get_me(engine: Engine, p: Params) -> Any:
    return {
        **engine.bot.to_api(),
        "can_join_groups": True,
        "can_read_all_group_messages": False,
        "supports_inline_queries": False,
        "can_connect_to_business": False,
        "has_main_web_app": False,
    }


async def get_updates(engine: Engine, p: Params) -> Any:
    """Long polling: answer at once if updates are pending, else wait up to ``timeout`` s."""
    world = engine.world
    if world.webhook["url"]:
        raise ApiError(
            409,
            "Conflict: can't use getUpdates method while webhook is active; "
            "use deleteWebhook to delete the webhook first",
        )
    offset = p.get_int("offset")
    if offset is not None:
        world.confirm(offset)
        engine.activity_signal.fire()  # wait_idle watches confirmations
    limit = min(max(p.get_int("limit") or MAX_UPDATES_PER_CALL, 1), MAX_UPDATES_PER_CALL)
    allowed = p.get_json("allowed_updates")
    if isinstance(allowed, list):
        world.allowed_updates = frozenset(str(kind) for kind in allowed)  # persists, as on TG
    engine.poll_generation += 1
    generation = engine.poll_generation
    engine.updates_signal.fire()  # an older long poll still waiting must now give up
    deadline = time.monotonic() + max(0.0, p.get_float("timeout") or 0.0)
    while True:
        batch = world.take_updates(limit)
        remaining = deadline - time.monotonic()
        if batch or engine.closing or remaining <= 0:
            if batch:
                engine.touch()  # the bot is about to work on these
            return batch
        await engine.updates_signal.wait(remaining)
        if generation != engine.poll_generation:
            raise ApiError(
                409,
                "Conflict: terminated by other getUpdates request; make sure "
                "that only one bot instance is running",
            )


_SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")


async def set_webhook(engine: Engine, p: Params) -> Any:
    url = p.get_str("url") or ""
    secret = p.get_str("secret_token")
    if secret is not None and not _SECRET_TOKEN.fullmatch(secret):
        raise bad_request("secret token contains unallowed characters")
    if url and not url.startswith(("https://", "http://")):
        raise bad_request("bad webhook: invalid URL")
    connections = p.get_int("max_connections") or 40
    if p.get_bool("drop_pending_updates"):
        engine.world.pending.clear()
    engine.world.webhook = {
        "url": url,
        "set_at": int(time.time()),
        "has_secret": secret is not None,
        "max_connections": connections,
    }
    if url:
        # Telegram accepts only HTTPS on ports 443, 80, 88 and 8443; the emulator posts to
        # whatever it is given, so tests can point it at a local server.
        engine.webhook.start(url, secret, connections)
    else:
        engine.webhook.stop()
    engine.updates_signal.fire()  # a long poll must now give up
    return True


async def delete_webhook(engine: Engine, p: Params) -> Any:
    engine.webhook.stop()
    engine.world.webhook = {"url": ""}
    if p.get_bool("drop_pending_updates"):
        engine.world.pending.clear()
        engine.world.forced.clear()
    return True


async def get_webhook_info(engine: Engine, p: Params) -> Any:
    info: dict[str, Any] = {
        "url": engine.world.webhook["url"],
        "has_custom_certificate": False,
        "pending_update_count": len(engine.world.pending),
    }
    if engine.world.webhook.get("max_connections"):
        info["max_connections"] = engine.world.webhook["max_connections"]
    return info


def _command_key(engine: Engine, p: Params) -> CommandKey:
    scope = p.get_json("scope") or {"type": "default"}
    if not isinstance(scope, dict) or scope.get("type") not in _SCOPES:
        raise bad_request("can't parse BotCommandScope JSON object")
    kind = str(scope["type"])
    chat_id = user_id = None
    if kind in ("chat", "chat_administrators", "chat_member"):
        chat_id = engine.world.resolve_chat(scope.get("chat_id") or "").id
    if kind == "chat_member":
        user_id = int(scope.get("user_id") or 0)
        if user_id not in engine.world.users:
            raise bad_request("user not found")
    language = p.get_str("language_code") or ""
    if not _LANGUAGE.fullmatch(language):
        raise bad_request("LANG_CODE_INVALID")  # a two-letter ISO 639-1 code, not "zh-hans"
    return kind, chat_id, user_id, language


async def set_my_commands(engine: Engine, p: Params) -> Any:
    commands = p.get_json("commands")
    if not isinstance(commands, list):
        raise bad_request("can't parse commands JSON object")
    if len(commands) > MAX_COMMANDS:
        raise bad_request("BOT_COMMANDS_TOO_MUCH")
    clean = []
    for item in commands:
        if not isinstance(item, dict):
            raise bad_request("can't parse BotCommand JSON object")
        command = str(item.get("command", "")).removeprefix("/")
        description = str(item.get("description", ""))
        if not _COMMAND.fullmatch(command):
            raise bad_request("BOT_COMMAND_INVALID")
        if not 1 <= len(description) <= MAX_COMMAND_DESCRIPTION:
            raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        clean.append({"command": command, "description": description})
    key = _command_key(engine, p)
    if clean:
        engine.world.commands[key] = clean
    else:
        engine.world.commands.pop(key, None)  # an empty list deletes, as on Telegram
    return True


async def get_my_commands(engine: Engine, p: Params) -> Any:
    return engine.world.commands.get(_command_key(engine, p), [])


async def delete_my_commands(engine: Engine, p: Params) -> Any:
    engine.world.commands.pop(_command_key(engine, p), None)
    return True


def _description(kind: str, limit: int) -> tuple[Handler, Handler]:
    async def setter(engine: Engine, p: Params) -> Any:
        text = p.get_str(kind) or ""
        language = p.get_str("language_code") or ""
        if len(text) > limit:
            raise bad_request(f"{kind.upper()}_INVALID")
        if text:
            engine.world.descriptions[(kind, language)] = text
        else:
            engine.world.descriptions.pop((kind, language), None)
        return True

    async def getter(engine: Engine, p: Params) -> Any:
        language = p.get_str("language_code") or ""
        return {kind: engine.world.descriptions.get((kind, language), "")}

    return setter, getter


set_my_description, get_my_description = _description("description", MAX_DESCRIPTION)
set_my_short_description, get_my_short_description = _description(
    "short_description", MAX_SHORT_DESCRIPTION
)


def _known_chat(engine: Engine, p: Params) -> Chat:
    chat_id = p.chat_id()
    chat = engine.world.chats.get(chat_id) if isinstance(chat_id, int) else None
    if chat is None:
        raise bad_request("chat not found")
    return chat


async def get_chat(engine: Engine, p: Params) -> Any:
    return _known_chat(engine, p).full_info()


def chat_member(chat: Chat, user: User, status: MemberStatus) -> dict[str, Any]:
    """A ChatMember object, as getChatMember and a chat_member update carry it."""
    data: dict[str, Any] = {"status": status, "user": user.to_api()}
    if status == "creator":
        data["is_anonymous"] = False
    elif status == "administrator":
        data.update(can_be_edited=False, is_anonymous=False)
        data.update(dict.fromkeys(_ADMIN_RIGHTS, True))
        if user.is_bot:
            data["can_pin_messages"] = chat.bot_can_pin_messages
            data["can_delete_messages"] = chat.bot_can_delete_messages
    elif status == "kicked":
        data["until_date"] = 0
    return data


def _status(engine: Engine, chat: Chat, user: User) -> MemberStatus:
    if user.is_bot and user.id == engine.bot.id:
        return "administrator" if chat.bot_is_admin and chat.is_group else "member"
    if chat.type == "private":
        return "member" if user.id == chat.id else "left"
    return chat.members.get(user.id, "left")


async def get_chat_member(engine: Engine, p: Params) -> Any:
    chat = _known_chat(engine, p)
    user_id = p.require_int("user_id")
    user = engine.bot if user_id == engine.bot.id else engine.world.users.get(user_id)
    if user is None:
        raise bad_request("user not found")
    return chat_member(chat, user, _status(engine, chat, user))


async def get_chat_administrators(engine: Engine, p: Params) -> Any:
    chat = _known_chat(engine, p)
    if not chat.is_group:
        raise bad_request("there are no administrators in the private chat")
    admins = [
        chat_member(chat, engine.world.users[uid], status)
        for uid, status in chat.members.items()
        if status in ("creator", "administrator")
    ]
    if chat.bot_is_admin:
        admins.append(chat_member(chat, engine.bot, "administrator"))
    return admins


async def get_chat_member_count(engine: Engine, p: Params) -> Any:
    chat = _known_chat(engine, p)
    if not chat.is_group:
        return 2
    present = ("creator", "administrator", "member")
    return 1 + sum(1 for status in chat.members.values() if status in present)


# getFile serves bots files of up to 20 MB; a larger one is refused, as Telegram refuses it.
MAX_DOWNLOAD = 20 * 1024 * 1024


async def get_file(engine: Engine, p: Params) -> Any:
    file_id = p.require_str("file_id")
    stored = engine.world.files.get(file_id)
    if stored is None:
        raise bad_request("invalid file_id")
    if len(stored[2]) > MAX_DOWNLOAD:
        raise bad_request("file is too big")
    return {
        "file_id": file_id,
        "file_unique_id": f"u{file_id}",
        "file_size": len(stored[2]),
        "file_path": f"files/{file_id}",
    }


async def close(engine: Engine, p: Params) -> Any:
    return True


async def log_out(engine: Engine, p: Params) -> Any:
    return True
