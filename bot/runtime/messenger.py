"""The messenger port: what the runtime asks of a chat messenger, and the failures it
must tell apart to do the right thing.

The runtime never imports a messenger's library. A front end (Telegram today; WeCom
or the web to come) implements :class:`Messenger` and turns its library's errors into
the ones below. Which error it is decides what happens to a notice: a flood wait
postpones it, an unreachable member is handed to the domain, a refusal or a request
that never left is retried later, and a request that may or may not have taken effect
is repeated only where repeating is harmless.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Outgoing:
    """A message to send, as the front end's renderer made it."""

    text: str
    # The front end's own keyboard, passed through untouched: the renderer that made it
    # and the messenger that sends it are the same front end.
    markup: object | None = None
    reply_to: int | None = None
    # Run once the message is out, with its message id (remember it, refresh a card).
    after: Callable[[int], Awaitable[None]] | None = None
    # Sent as a photo with the text as its caption: the messenger's id of a photo it
    # has, or an image's bytes (PNG) to upload.
    photo: str | bytes | None = None


class MessengerError(Exception):
    """A call the messenger did not carry out as asked."""


class Unreachable(MessengerError):
    """The recipient cannot be written to: never started the bot, blocked it, left."""


class FloodWait(MessengerError):
    def __init__(self, retry_after: float, message: str = "") -> None:
        super().__init__(message or f"flood wait: retry after {retry_after:g} s")
        self.retry_after = retry_after


class ChatMoved(MessengerError):
    """The chat has a new id (a Telegram group upgraded to a supergroup)."""

    def __init__(self, new_chat_id: int, message: str = "") -> None:
        super().__init__(message or f"the chat moved to {new_chat_id}")
        self.new_chat_id = new_chat_id


class NotModified(MessengerError):
    """An edit that would change nothing."""


class MessageGone(MessengerError):
    """The message to edit, pin or answer no longer exists (or is too old)."""


class Refused(MessengerError):
    """The messenger refused the request: it certainly did not take effect."""


class NotSent(MessengerError):
    """The request never reached the messenger (no connection): it did not take effect."""


class InDoubt(MessengerError):
    """The request may or may not have taken effect (a timeout, a connection lost)."""


class Messenger(Protocol):
    async def send(self, chat_id: int, out: Outgoing, *, thread_id: int | None = None) -> int:
        """Send ``out``; the new message's id."""
        ...

    async def edit(
        self, chat_id: int, message_id: int, text: str, *, markup: object | None = None
    ) -> None: ...

    async def answer(self, query_id: str, text: str = "", *, alert: bool = False) -> None:
        """Answer a button press (the small notice the member sees)."""
        ...

    async def send_file(
        self,
        chat_id: int,
        filename: str,
        content: bytes,
        *,
        caption: str = "",
        thread_id: int | None = None,
    ) -> int: ...

    async def pin(self, chat_id: int, message_id: int) -> None: ...
