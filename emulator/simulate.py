"""The other side of the chat: simulated users, and inspection helpers for tests."""

from __future__ import annotations

import asyncio
import copy
import itertools
import re
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from emulator.api_misc import chat_member
from emulator.engine import EmulatorStats, Engine, PendingQuery
from emulator.html import utf16_len
from emulator.limits import RateLimits
from emulator.models import CallbackAnswer, Chat, MemberStatus, Message, User
from emulator.transcript import Entry, Transcript

_COMMAND = re.compile(r"/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?")
ChatRef = Chat | User  # a private chat may be named by its user


class UserSimulation:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._query_ids = itertools.count(1)

    async def _wait_probed(self) -> None:
        engine = self._engine
        while True:
            while engine.world.unconfirmed():
                await engine.activity_signal.wait(1.0)
            mark = engine.touches
            for probe in list(engine.idle_probes):
                await probe()
            if not engine.world.unconfirmed() and engine.touches == mark:
                return

    # -- properties ----------------------------------------------------------------------

    @property
    def bot(self) -> User:
        return self._engine.bot

    @property
    def bot_username(self) -> str:
        return self._engine.bot.username or ""

    @property
    def transcript(self) -> Transcript:
        return self._engine.transcript

    @property
    def stats(self) -> EmulatorStats:
        self._engine.stats.injected_429 = self._engine.limiter.injected
        return self._engine.stats

    @property
    def limits(self) -> RateLimits:
        return self._engine.limiter.limits

    @property
    def event_seq(self) -> int:
        """Number of bot messages/edits so far; pass as ``after`` to wait_for_bot_message."""
        return len(self._engine.bot_events)

    def deep_link(self, payload: str) -> str:
        return f"https://t.me/{self.bot_username}?start={payload}"

    def inject_429(self, ratio: float, seed: int = 0) -> None:
        """Fail ``ratio`` of sending calls with 429 retry_after=1 (0 turns it off)."""
        self._engine.limiter.inject_429(ratio, seed)

    def inject_failures(
        self,
        ratio: float,
        seed: int = 0,
        *,
        after_share: float = 0.5,
        spare: Iterable[str] = (),
        only: Iterable[str] = (),
    ) -> None:
        """Fail ``ratio`` of all Bot API calls with HTTP 500: some before they take effect,
        ``after_share`` of them after (the answer lost on the way). 0 turns it off;
        ``spare`` names methods never failed, ``only`` (if given) the only ones failed."""
        self._engine.faults.configure(
            ratio,
            seed,
            after_share=after_share,
            spare=frozenset(m.lower() for m in spare),
            only=frozenset(m.lower() for m in only),
        )

    @property
    def injected_failures(self) -> tuple[int, int]:
        """Failures injected so far: (before the call took effect, after it)."""
        return self._engine.faults.before, self._engine.faults.after

    @property
    def webhook_stats(self) -> Any:
        return self._engine.webhook.stats

    # -- the world -----------------------------------------------------------------------

    def add_user(
        self,
        first_name: str,
        *,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "zh-hans",
        user_id: int | None = None,
    ) -> User:
        world = self._engine.world
        user = User(
            id=user_id if user_id is not None else world.new_user_id(),
            first_name=first_name,
            last_name=last_name,
            username=username,
            language_code=language_code,
        )
        return world.add_user(user)

    def add_group(
        self,
        title: str,
        *,
        supergroup: bool = True,
        forum: bool = False,
        admins: Iterable[User] = (),
        members: Iterable[User] = (),
        creator: User | None = None,
        bot_is_admin: bool = True,
        bot_can_pin_messages: bool = True,
        bot_can_delete_messages: bool = True,
        chat_id: int | None = None,
    ) -> Chat:
        """A group with the bot in it; ``forum`` implies a supergroup."""
        world = self._engine.world
        supergroup = supergroup or forum
        chat = Chat(
            id=chat_id if chat_id is not None else world.new_group_id(supergroup),
            type="supergroup" if supergroup else "group",
            title=title,
            is_forum=forum,
            bot_is_admin=bot_is_admin,
            bot_can_pin_messages=bot_can_pin_messages,
            bot_can_delete_messages=bot_can_delete_messages,
        )
        for user in members:
            chat.members[user.id] = "member"
        for user in admins:
            chat.members[user.id] = "administrator"
        if creator is not None:
            chat.members[creator.id] = "creator"
        return world.add_chat(chat)

    def add_member(self, chat: Chat, user: User, status: MemberStatus = "member") -> None:
        chat.members[user.id] = status

    def set_member_status(
        self, chat: Chat, user: User, status: MemberStatus, *, by: User | None = None
    ) -> None:
        """``by`` (an admin; the user themselves when leaving) promotes, demotes, removes
        ``user``. As Telegram, the bot gets a ``chat_member`` update only where it is an
        administrator, and only if it asked for them in ``allowed_updates``."""
        old = chat.members.get(user.id, "left")
        chat.members[user.id] = status
        actor = by or user
        text = f"{user.full_name}: {old} → {status}"
        self.transcript.add(Entry("user", chat.label, actor=actor.full_name, text=text))
        if not chat.bot_is_admin or old == status:
            return
        self._engine.enqueue(
            {
                "chat_member": {
                    "chat": chat.to_api(),
                    "from": actor.to_api(),
                    "date": int(time.time()),
                    "old_chat_member": chat_member(chat, user, old),
                    "new_chat_member": chat_member(chat, user, status),
                }
            }
        )

    def upgrade_to_supergroup(self, chat: Chat, by: User) -> Chat:
        """Telegram turns a basic group into a supergroup with a new chat id (it does when
        a group grows or an admin changes certain settings). The old chat refuses sends
        from then on (400 with ``migrate_to_chat_id``); both chats get a service message."""
        if chat.type != "group":
            raise ValueError("only a basic group can be upgraded")
        world = self._engine.world
        new = Chat(
            id=world.new_group_id(supergroup=True),
            type="supergroup",
            title=chat.title,
            members=dict(chat.members),
            bot_is_admin=chat.bot_is_admin,
            bot_can_pin_messages=chat.bot_can_pin_messages,
            bot_can_delete_messages=chat.bot_can_delete_messages,
        )
        world.add_chat(new)
        old_notice = world.new_message(chat, by, service={"migrate_to_chat_id": new.id})
        new_notice = world.new_message(new, by, service={"migrate_from_chat_id": chat.id})
        chat.migrated_to = new.id
        text = f"群升级为超级群（新 id {new.id}）"
        self.transcript.add(Entry("user", chat.label, actor=by.full_name, text=text))
        self._engine.enqueue({"message": old_notice.to_api()})
        self._engine.enqueue({"message": new_notice.to_api()})
        return new

    def start_bot(self, user: User) -> None:
        """The user opened the bot (without sending /start): the bot may now write to them."""
        self._engine.world.started.add(user.id)
        self._engine.world.blocked.discard(user.id)

    def block_bot(self, user: User) -> None:
        self._engine.world.blocked.add(user.id)

    def _chat(self, ref: ChatRef) -> Chat:
        if isinstance(ref, User):
            return self._engine.world.private_chat(ref)
        return ref

    # -- acting as users -----------------------------------------------------------------

    async def send_text(
        self,
        user: User,
        chat: ChatRef,
        text: str,
        *,
        thread_id: int | None = None,
        reply_to: Message | int | None = None,
    ) -> Message:
        """``user`` writes ``text`` in ``chat``; the bot receives it via getUpdates."""
        world = self._engine.world
        target = self._chat(chat)
        if target.type == "private":
            if target.id != user.id:
                raise ValueError(f"{user.full_name} cannot write in another user's private chat")
            self.start_bot(user)  # writing to a bot (re)opens the conversation
        elif target.members.get(user.id) not in ("creator", "administrator", "member"):
            raise ValueError(f"{user.full_name} is not a member of {target.label}")
        reply_id = reply_to.message_id if isinstance(reply_to, Message) else reply_to
        reply = world.get_message(target.id, reply_id) if reply_id is not None else None
        if reply_id is not None and reply is None:
            raise ValueError(f"message #{reply_id} does not exist in {target.label}")
        if thread_id is None and reply is not None:
            thread_id = reply.message_thread_id
        entities: list[dict[str, Any]] = []
        if command := _COMMAND.match(text):
            entities.append({"type": "bot_command", "offset": 0, "length": utf16_len(command[0])})
        message = world.new_message(
            target,
            user,
            text=text,
            entities=entities,
            source=text,
            message_thread_id=thread_id,
            reply_to_message_id=reply_id,
        )
        self.transcript.add(Entry("user", target.label, actor=user.full_name, text=text))
        self._engine.enqueue({"message": message.to_api(with_reply=reply)})
        return copy.copy(message)

    async def send_document(
        self,
        user: User,
        chat: ChatRef,
        file_name: str,
        data: bytes,
        *,
        mime_type: str = "application/octet-stream",
        caption: str | None = None,
        thread_id: int | None = None,
    ) -> Message:
        """``user`` sends a file (a spreadsheet, say), with an optional ``caption``, in
        ``chat``: the bot gets a message with a ``document``, whose ``file_id`` getFile
        resolves and the file URL serves, as Telegram's do."""
        world = self._engine.world
        target = self._chat(chat)
        if target.type == "private":
            if target.id != user.id:
                raise ValueError(f"{user.full_name} cannot write in another user's private chat")
            self.start_bot(user)
        elif target.members.get(user.id) not in ("creator", "administrator", "member"):
            raise ValueError(f"{user.full_name} is not a member of {target.label}")
        file_id = f"BQADuser{len(world.files) + 1:06d}"
        world.files[file_id] = (file_name, mime_type, data)
        entities: list[dict[str, Any]] = []
        if caption and (command := _COMMAND.match(caption)):
            entities.append({"type": "bot_command", "offset": 0, "length": utf16_len(command[0])})
        message = world.new_message(
            target,
            user,
            caption=caption,
            entities=entities,
            source=caption,
            message_thread_id=thread_id,
            document={
                "file_id": file_id,
                "file_unique_id": f"u{file_id}",
                "file_name": file_name,
                "mime_type": mime_type,
                "file_size": len(data),
            },
        )
        shown = f"📎 {file_name}" + (f" — {caption}" if caption else "")
        self.transcript.add(Entry("user", target.label, actor=user.full_name, text=shown))
        self._engine.enqueue({"message": message.to_api()})
        return copy.copy(message)

    async def edit_text(self, user: User, message: Message | int, text: str) -> Message:
        """``user`` edits their own message to read ``text``; the bot receives an
        ``edited_message`` update (the whole message as it now stands, entities included,
        as Telegram sends it). ``message`` is what :meth:`send_text` returned, or its id
        in the user's private chat."""
        if isinstance(message, Message):
            chat_id, message_id = message.chat.id, message.message_id
        else:
            chat_id, message_id = self._engine.world.private_chat(user).id, message
        world = self._engine.world
        current = world.get_message(chat_id, message_id)
        if current is None:
            raise ValueError(f"message #{message_id} does not exist")
        if current.from_user.id != user.id:
            raise ValueError(f"{user.full_name} cannot edit another's message #{message_id}")
        if current.text is None:
            raise ValueError(f"message #{message_id} has no text to edit")
        entities: list[dict[str, Any]] = []
        if command := _COMMAND.match(text):
            entities.append({"type": "bot_command", "offset": 0, "length": utf16_len(command[0])})
        current.text, current.source, current.entities = text, text, entities
        current.edit_date = int(time.time())
        reply_id = current.reply_to_message_id
        reply = world.get_message(chat_id, reply_id) if reply_id is not None else None
        self.transcript.add(
            Entry(
                "user_edit",
                current.chat.label,
                actor=user.full_name,
                text=text,
                message_id=message_id,
            )
        )
        self._engine.enqueue({"edited_message": current.to_api(with_reply=reply)})
        return copy.copy(current)

    async def press(
        self,
        user: User,
        message: Message,
        callback_data: str,
        *,
        forge: bool = False,
        timeout: float = 10.0,
    ) -> CallbackAnswer:
        """Press the button carrying ``callback_data`` and wait for answerCallbackQuery.

        With ``forge=True`` the data need not be on any button (a tampered client).
        """
        query_id = self.press_later(user, message, callback_data, forge=forge)
        future = self._engine.queries[query_id].future
        try:
            return await asyncio.wait_for(asyncio.shield(future), timeout)
        except TimeoutError:
            raise TimeoutError(
                f"the bot did not answer the callback query of {user.full_name} "
                f"(data={callback_data!r}) within {timeout}s"
            ) from None

    def press_later(
        self, user: User, message: Message, callback_data: str, *, forge: bool = False
    ) -> str:
        """Press a button without waiting for the answer (the bot may be down); returns
        the query id, whose answer :meth:`answer_of` gives once there is one."""
        current = self._engine.world.get_message(message.chat.id, message.message_id)
        if current is None:
            raise ValueError(f"message #{message.message_id} no longer exists")
        label = current.find_button(callback_data)
        if label is None and not forge:
            raise ValueError(
                f"message #{current.message_id} has no button with callback_data "
                f"{callback_data!r}; buttons: {current.buttons}"
            )
        query_id = f"{user.id}-{next(self._query_ids)}"
        entry = self.transcript.add(
            Entry(
                "press",
                current.chat.label,
                actor=user.full_name,
                text=label if label is not None else f"forged: {callback_data}",
                message_id=current.message_id,
            )
        )
        future: asyncio.Future[CallbackAnswer] = asyncio.get_running_loop().create_future()
        self._engine.queries[query_id] = PendingQuery(user, future, entry)
        # As Telegram, the pressed message comes with the message it replies to.
        replied = current.reply_to_message_id
        world = self._engine.world
        reply = None if replied is None else world.get_message(current.chat.id, replied)
        self._engine.enqueue(
            {
                "callback_query": {
                    "id": query_id,
                    "from": user.to_api(),
                    "message": current.to_api(with_reply=reply),
                    "chat_instance": str(current.chat.id),
                    "data": callback_data,
                }
            }
        )
        return query_id

    def answer_of(self, query_id: str) -> CallbackAnswer | None:
        query = self._engine.queries.get(query_id)
        if query is None or not query.future.done():
            return None
        return query.future.result()

    def push_raw_update(self, update: dict[str, Any]) -> int:
        """Queue a hand-made update (``update_id`` optional); returns its update_id."""
        return int(self._engine.enqueue(update)["update_id"])

    def redeliver(self, update_id: int) -> None:
        """Hand an already delivered update (same update_id) to the bot once more."""
        self._engine.world.redeliver(update_id)
        self._engine.updates_signal.fire()

    # -- inspection ----------------------------------------------------------------------

    def messages(self, chat: ChatRef) -> list[Message]:
        """Current messages of ``chat`` (after edits, without deleted ones), as snapshots."""
        return [copy.copy(m) for m in self._engine.world.messages(self._chat(chat).id)]

    def last_bot_message(self, chat: ChatRef) -> Message | None:
        bot_messages = [m for m in self.messages(chat) if m.from_bot]
        return bot_messages[-1] if bot_messages else None

    def sent_to(self, user: User) -> list[Message]:
        """Bot messages in ``user``'s private chat."""
        return [m for m in self.messages(user) if m.from_bot]

    def commands(
        self,
        scope: str = "default",
        language_code: str = "",
        *,
        chat: ChatRef | None = None,
        user: User | None = None,
    ) -> list[tuple[str, str]]:
        chat_id = self._chat(chat).id if chat is not None else None
        key = (scope, chat_id, user.id if user is not None else None, language_code)
        return [(c["command"], c["description"]) for c in self._engine.world.commands.get(key, [])]

    async def wait_for_bot_message(
        self,
        chat: ChatRef | None = None,
        predicate: Callable[[Message], bool] | None = None,
        timeout: float = 5.0,
        *,
        after: int | None = None,
    ) -> Message:
        """Wait for a bot message or edit (in ``chat``, matching ``predicate``).

        Only events after ``after`` (default: now, see :attr:`event_seq`) count, so take
        ``event_seq`` *before* triggering the bot if other awaits happen in between.
        """
        engine = self._engine
        chat_id = self._chat(chat).id if chat is not None else None
        index = self.event_seq if after is None else after
        deadline = time.monotonic() + timeout
        while True:
            while index < len(engine.bot_events):
                event = engine.bot_events[index]
                index += 1
                if chat_id is not None and event.message.chat.id != chat_id:
                    continue
                if predicate is None or predicate(event.message):
                    return event.message
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                tail = "\n".join(self.transcript.render().splitlines()[-15:])
                raise TimeoutError(
                    f"no matching bot message within {timeout}s; transcript tail:\n{tail}"
                )
            await engine.bot_signal.wait(remaining)

    def watch(self, probe: Callable[[], Awaitable[None]]) -> Callable[[], None]:
        """Let :meth:`wait_idle` ask the bot itself: ``probe()`` returns once the bot has
        nothing in hand. Returns the function that stops watching."""
        probes = self._engine.idle_probes
        probes.append(probe)
        return lambda: probes.remove(probe)

    async def wait_idle(self, quiet: float = 0.2, timeout: float = 10.0) -> None:
        """Wait until every update was delivered and the bot is done with them: when
        the bot is watched (:meth:`watch`), until its probes say so and it made no call
        meanwhile; otherwise until it made no call for ``quiet`` s."""
        engine = self._engine
        deadline = time.monotonic() + timeout
        if engine.idle_probes:
            try:
                async with asyncio.timeout(timeout):
                    await self._wait_probed()
            except TimeoutError:
                raise TimeoutError(
                    f"bot not idle after {timeout}s (undelivered updates: "
                    f"{engine.world.undelivered()})"
                ) from None
            return
        while True:
            now = time.monotonic()
            busy = engine.world.undelivered()
            silent_for = now - engine.last_activity
            if not busy and silent_for >= quiet:
                return
            remaining = deadline - now
            if remaining <= 0:
                raise TimeoutError(
                    f"bot not idle after {timeout}s (undelivered updates: {busy}, "
                    f"last call {silent_for:.2f}s ago)"
                )
            step = remaining if busy else min(remaining, quiet - silent_for)
            await engine.activity_signal.wait(step)
