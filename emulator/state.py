"""The emulated Telegram world, in memory and free of I/O (the server adds HTTP on top)."""

from __future__ import annotations

import copy
import itertools
import time
from collections.abc import Iterable
from typing import Any

from emulator.errors import bad_request, chat_migrated, forbidden
from emulator.models import Chat, Message, User

# Update types delivered when the bot never set allowed_updates (Telegram's default).
_OPT_IN_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
CommandKey = tuple[str, int | None, int | None, str]  # scope type, chat_id, user_id, language


class World:
    def __init__(self, bot: User) -> None:
        self.bot = bot
        self.users: dict[int, User] = {}
        self.chats: dict[int, Chat] = {}
        self.started: set[int] = set()
        self.blocked: set[int] = set()
        self._messages: dict[int, dict[int, Message]] = {}
        self._next_message_id: dict[int, int] = {}
        self._user_ids = itertools.count(1001)
        self._group_ids = itertools.count(1)
        # Update queue: pending until confirmed by an offset, as in Telegram.
        self._next_update_id = 1
        self.pending: dict[int, dict[str, Any]] = {}
        self.history: dict[int, dict[str, Any]] = {}
        self.forced: list[dict[str, Any]] = []  # redeliveries, handed out once each
        self.delivered_up_to = 0
        self.allowed_updates: frozenset[str] | None = None
        self.commands: dict[CommandKey, list[dict[str, str]]] = {}
        self.descriptions: dict[tuple[str, str], str] = {}
        self.webhook: dict[str, Any] = {"url": ""}
        self.files: dict[str, tuple[str, str, bytes]] = {}  # file_id -> (name, mime, data)

    # -- people and chats ----------------------------------------------------------------

    def new_user_id(self) -> int:
        user_id = next(self._user_ids)
        while user_id in self.users:
            user_id = next(self._user_ids)
        return user_id

    def new_group_id(self, supergroup: bool) -> int:
        n = next(self._group_ids)
        return -(1_000_000_000_000 + n) if supergroup else -(4_000_000 + n)

    def add_user(self, user: User) -> User:
        if user.id in self.users:
            raise ValueError(f"user id {user.id} already exists")
        self.users[user.id] = user
        self.chats[user.id] = Chat(id=user.id, type="private", user=user)
        return user

    def add_chat(self, chat: Chat) -> Chat:
        self.chats[chat.id] = chat
        return chat

    def resolve_chat(self, chat_id: int | str) -> Chat:
        """The chat a bot call addresses, enforcing who the bot may talk to."""
        if isinstance(chat_id, str):
            raise bad_request("chat not found")  # no public usernames in the emulator
        chat = self.chats.get(chat_id)
        if chat is None:
            raise bad_request("chat not found")
        if chat.migrated_to is not None:
            raise chat_migrated(chat.migrated_to)
        if chat.type == "private":
            if chat.id in self.blocked:
                raise forbidden("bot was blocked by the user")
            if chat.id not in self.started:
                raise forbidden("bot can't initiate conversation with a user")
        return chat

    def private_chat(self, user: User) -> Chat:
        return self.chats[user.id]

    # -- messages ------------------------------------------------------------------------

    def new_message(self, chat: Chat, sender: User, **fields: Any) -> Message:
        message_id = self._next_message_id.get(chat.id, 1)
        self._next_message_id[chat.id] = message_id + 1
        message = Message(
            message_id=message_id, chat=chat, from_user=sender, date=int(time.time()), **fields
        )
        self._messages.setdefault(chat.id, {})[message_id] = message
        return message

    def get_message(self, chat_id: int, message_id: int) -> Message | None:
        message = self._messages.get(chat_id, {}).get(message_id)
        return None if message is None or message.deleted else message

    def messages(self, chat_id: int) -> list[Message]:
        return [m for m in self._messages.get(chat_id, {}).values() if not m.deleted]

    def all_messages(self) -> Iterable[Message]:
        for per_chat in self._messages.values():
            yield from (m for m in per_chat.values() if not m.deleted)

    # -- updates -------------------------------------------------------------------------

    def enqueue(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Queue an update; ``payload`` lacks update_id (one is assigned) unless raw."""
        update = dict(payload)
        if "update_id" in update:
            self._next_update_id = max(self._next_update_id, int(update["update_id"]) + 1)
        else:
            update["update_id"] = self._next_update_id
            self._next_update_id += 1
        self.pending[update["update_id"]] = update
        self.history[update["update_id"]] = update
        return update

    def redeliver(self, update_id: int) -> None:
        update = self.history.get(update_id)
        if update is None:
            raise KeyError(f"no update with update_id {update_id} was ever queued")
        self.forced.append(copy.deepcopy(update))

    def confirm(self, offset: int) -> None:
        """Forget updates below ``offset``; a negative offset keeps only the last -offset."""
        if offset < 0:
            keep = sorted(self.pending)[offset:]
            offset = keep[0] if keep else self._next_update_id
        for update_id in [u for u in self.pending if u < offset]:
            del self.pending[update_id]

    def take_updates(self, limit: int) -> list[dict[str, Any]]:
        """Updates to hand to getUpdates: redeliveries first, then the oldest pending."""
        batch = self.forced[:limit]
        del self.forced[:limit]
        for update_id in sorted(self.pending):
            if len(batch) >= limit:
                break
            update = self.pending[update_id]
            if self._allowed(update):
                batch.append(update)
            else:
                del self.pending[update_id]  # Telegram drops filtered updates for good
        if batch:
            self.delivered_up_to = max(self.delivered_up_to, *(u["update_id"] for u in batch))
        return batch

    def undelivered(self) -> bool:
        return bool(self.forced) or any(u > self.delivered_up_to for u in self.pending)

    def unconfirmed(self) -> bool:
        """Updates the bot has not confirmed yet (handed out or not): a bot that stores
        before it confirms has every confirmed update in its own hands."""
        return bool(self.forced) or bool(self.pending)

    def _allowed(self, update: dict[str, Any]) -> bool:
        kind = next((key for key in update if key != "update_id"), "")
        if self.allowed_updates is None or not self.allowed_updates:
            return kind not in _OPT_IN_UPDATES
        return kind in self.allowed_updates
