"""The emulated world's records and their Bot API (JSON) shapes."""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any, Literal

ChatType = Literal["private", "group", "supergroup"]
MemberStatus = Literal["creator", "administrator", "member", "left", "kicked"]
#: One keyboard row as (button text, callback_data or None for url/other buttons).
ButtonRow = list[tuple[str, str | None]]


@dataclass
class User:
    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = "zh-hans"
    is_bot: bool = False

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}" if self.last_name else self.first_name

    def to_api(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "is_bot": self.is_bot,
            "first_name": self.first_name,
        }
        for key in ("last_name", "username", "language_code"):
            if (value := getattr(self, key)) is not None:
                data[key] = value
        return data


@dataclass
class Chat:
    id: int
    type: ChatType
    title: str | None = None
    is_forum: bool = False
    #: For private chats: the user on the other side.
    user: User | None = None
    #: user id -> status; the bot itself is not listed (see ``bot_is_admin``).
    members: dict[int, MemberStatus] = field(default_factory=dict)
    bot_is_admin: bool = False
    bot_can_pin_messages: bool = True
    bot_can_delete_messages: bool = True
    pinned_message_id: int | None = None
    #: A group upgraded to a supergroup: its new chat id (the old one refuses sends).
    migrated_to: int | None = None

    @property
    def is_group(self) -> bool:
        return self.type != "private"

    @property
    def label(self) -> str:
        if self.user is not None:
            return f"私聊·{self.user.full_name}"
        return self.title or str(self.id)

    def to_api(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "type": self.type}
        if self.user is not None:
            data["first_name"] = self.user.first_name
            if self.user.last_name:
                data["last_name"] = self.user.last_name
            if self.user.username:
                data["username"] = self.user.username
        else:
            data["title"] = self.title
            if self.is_forum:
                data["is_forum"] = True
        return data

    def full_info(self) -> dict[str, Any]:
        """``ChatFullInfo`` as returned by getChat (PTB requires the last three fields)."""
        data = self.to_api()
        data.update(
            accent_color_id=0,
            max_reaction_count=11,
            accepted_gift_types={
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        )
        if self.pinned_message_id is not None:
            data["pinned_message_id"] = self.pinned_message_id
        return data


@dataclass
class Message:
    """A message as it currently stands (after edits).

    ``text`` is what users see (HTML removed, entities unescaped); ``source`` and
    ``parse_mode`` are what the bot sent.  Documents and photos keep their caption in
    ``caption`` and have ``text`` None.
    """

    message_id: int
    chat: Chat
    from_user: User
    date: int
    text: str | None = None
    entities: list[dict[str, Any]] = field(default_factory=list)
    source: str | None = None
    parse_mode: str | None = None
    reply_markup: dict[str, Any] | None = None
    message_thread_id: int | None = None
    reply_to_message_id: int | None = None
    edit_date: int | None = None
    caption: str | None = None
    document: dict[str, Any] | None = None
    photo: list[dict[str, Any]] | None = None
    deleted: bool = False
    #: Fields of a service message (``migrate_to_chat_id``, …), sent as they are.
    service: dict[str, Any] = field(default_factory=dict)

    @property
    def from_bot(self) -> bool:
        return self.from_user.is_bot

    @property
    def html(self) -> str | None:
        """The message as Telegram HTML (what the bot sent if it used HTML)."""
        if self.source is not None and (self.parse_mode or "").lower() == "html":
            return self.source
        shown = self.text if self.text is not None else self.caption
        return None if shown is None else html.escape(shown, quote=False)

    @property
    def buttons(self) -> list[ButtonRow]:
        rows = (self.reply_markup or {}).get("inline_keyboard") or []
        return [[(b.get("text", ""), b.get("callback_data")) for b in row] for row in rows]

    @property
    def url_buttons(self) -> list[list[str | None]]:
        """Each button's URL, row by row (None for a button without one)."""
        rows = (self.reply_markup or {}).get("inline_keyboard") or []
        return [[b.get("url") for b in row] for row in rows]

    def find_button(self, callback_data: str) -> str | None:
        """Text of the button carrying ``callback_data``, if any."""
        for row in self.buttons:
            for text, data in row:
                if data == callback_data:
                    return text
        return None

    def to_api(self, *, with_reply: Message | None = None) -> dict[str, Any]:
        data: dict[str, Any] = {
            "message_id": self.message_id,
            "from": self.from_user.to_api(),
            "chat": self.chat.to_api(),
            "date": self.date,
        }
        if self.message_thread_id is not None:
            data["message_thread_id"] = self.message_thread_id
            if self.chat.is_forum:
                data["is_topic_message"] = True
        if with_reply is not None:
            data["reply_to_message"] = with_reply.to_api()
        if self.edit_date is not None:
            data["edit_date"] = self.edit_date
        if self.text is not None:
            data["text"] = self.text
            if self.entities:
                data["entities"] = self.entities
        if self.document is not None:
            data["document"] = self.document
        if self.photo is not None:
            data["photo"] = self.photo
        if self.caption is not None:
            data["caption"] = self.caption
            if self.entities:
                data["caption_entities"] = self.entities
        if self.reply_markup is not None and "inline_keyboard" in self.reply_markup:
            data["reply_markup"] = self.reply_markup
        data.update(self.service)
        return data


@dataclass(frozen=True)
class CallbackAnswer:
    """What the bot answered to a button press (answerCallbackQuery)."""

    text: str | None
    show_alert: bool
    url: str | None = None
    cache_time: int = 0
