"""Bot API methods that create or change messages, and answerCallbackQuery."""

from __future__ import annotations

import time
from typing import Any

from emulator.engine import Engine
from emulator.errors import bad_request
from emulator.html import utf16_len
from emulator.limits import MAX_CALLBACK_ANSWER_LENGTH, MAX_CAPTION_LENGTH, MAX_TEXT_LENGTH
from emulator.markup import validate_markup
from emulator.models import CallbackAnswer, Chat, Message
from emulator.params import Params, UploadedFile
from emulator.transcript import Entry

NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)
CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)


def _inline_markup(p: Params, chat: Chat) -> dict[str, Any] | None:
    markup = validate_markup(p.get_json("reply_markup"), private=not chat.is_group)
    # Reply keyboards are accepted on send but are not part of the message itself.
    return markup if markup is not None and "inline_keyboard" in markup else None


def _reply_target(engine: Engine, chat: Chat, p: Params) -> Message | None:
    params = p.get_json("reply_parameters")
    if isinstance(params, dict):
        message_id = params.get("message_id")
        allow = bool(params.get("allow_sending_without_reply"))
    else:
        message_id = p.get_int("reply_to_message_id")
        allow = p.get_bool("allow_sending_without_reply")
    if message_id is None:
        return None
    target = engine.world.get_message(chat.id, int(message_id))
    if target is None and not allow:
        raise bad_request("message to be replied not found")
    return target


def _own_message(engine: Engine, p: Params, missing: str) -> Message:
    if p.has("inline_message_id"):
        raise bad_request("MESSAGE_ID_INVALID")  # inline mode is not emulated
    chat = engine.world.resolve_chat(p.chat_id())
    message = engine.world.get_message(chat.id, p.require_int("message_id"))
    if message is None:
        raise bad_request(missing)
    if not message.from_bot:
        raise bad_request("message can't be edited")
    return message


async def send_message(engine: Engine, p: Params) -> Any:
    chat = engine.world.resolve_chat(p.chat_id())
    source = p.get_str("text")
    formatted = engine.format(
        source,
        p.get_str("parse_mode"),
        p.get_json("entities"),
        limit=MAX_TEXT_LENGTH,
        empty="message text is empty",
        too_long="message is too long",
    )
    markup = _inline_markup(p, chat)
    reply = _reply_target(engine, chat, p)
    thread_id = p.get_int("message_thread_id")
    if thread_id is None and reply is not None:
        thread_id = reply.message_thread_id  # replies stay in the replied-to topic
    engine.limiter.acquire(chat.id, is_group=chat.is_group)
    message = engine.world.new_message(
        chat,
        engine.bot,
        text=formatted.text,
        entities=formatted.entities,
        source=source,
        parse_mode=p.get_str("parse_mode"),
        reply_markup=markup,
        message_thread_id=thread_id,
        reply_to_message_id=reply.message_id if reply else None,
    )
    engine.record_bot_message("sent", message)
    return message.to_api(with_reply=reply)


async def edit_message_text(engine: Engine, p: Params) -> Any:
    message = _own_message(engine, p, "message to edit not found")
    if message.text is None:
        raise bad_request("there is no text in the message to edit")
    source = p.get_str("text")
    formatted = engine.format(
        source,
        p.get_str("parse_mode"),
        p.get_json("entities"),
        limit=MAX_TEXT_LENGTH,
        empty="message text is empty",
        too_long="MESSAGE_TOO_LONG",
    )
    # Omitting reply_markup removes the keyboard, exactly as on Telegram.
    markup = validate_markup(p.get_json("reply_markup"), private=not message.chat.is_group)
    if (formatted.text, formatted.entities, markup) == (
        message.text,
        message.entities,
        message.reply_markup,
    ):
        raise bad_request(NOT_MODIFIED)
    engine.limiter.acquire(message.chat.id, is_group=message.chat.is_group)
    message.text, message.entities, message.reply_markup = (
        formatted.text,
        formatted.entities,
        markup,
    )
    message.source, message.parse_mode = source, p.get_str("parse_mode")
    message.edit_date = int(time.time())
    engine.record_bot_message("edited", message)
    return message.to_api()


async def edit_message_caption(engine: Engine, p: Params) -> Any:
    message = _own_message(engine, p, "message to edit not found")
    if message.document is None and message.photo is None:
        raise bad_request("there is no caption in the message to edit")
    source = p.get_str("caption")
    formatted = engine.format(
        source,
        p.get_str("parse_mode"),
        p.get_json("caption_entities"),
        limit=MAX_CAPTION_LENGTH,
        empty=None,
        too_long="message caption is too long",
    )
    markup = validate_markup(p.get_json("reply_markup"), private=not message.chat.is_group)
    caption = formatted.text or None
    if (caption, formatted.entities, markup) == (
        message.caption,
        message.entities,
        message.reply_markup,
    ):
        raise bad_request(NOT_MODIFIED)
    engine.limiter.acquire(message.chat.id, is_group=message.chat.is_group)
    message.caption, message.entities, message.reply_markup = caption, formatted.entities, markup
    message.source, message.parse_mode = source, p.get_str("parse_mode")
    message.edit_date = int(time.time())
    engine.record_bot_message("edited", message)
    return message.to_api()


async def edit_message_reply_markup(engine: Engine, p: Params) -> Any:
    message = _own_message(engine, p, "message to edit not found")
    markup = validate_markup(p.get_json("reply_markup"), private=not message.chat.is_group)
    if markup == message.reply_markup:
        raise bad_request(NOT_MODIFIED)
    engine.limiter.acquire(message.chat.id, is_group=message.chat.is_group)
    message.reply_markup = markup
    message.edit_date = int(time.time())
    engine.record_bot_message("edited", message)
    return message.to_api()


async def delete_message(engine: Engine, p: Params) -> Any:
    chat = engine.world.resolve_chat(p.chat_id())
    message = engine.world.get_message(chat.id, p.require_int("message_id"))
    if message is None:
        raise bad_request("message to delete not found")
    may_delete_others = chat.bot_is_admin and chat.bot_can_delete_messages
    if chat.is_group and not message.from_bot and not may_delete_others:
        raise bad_request("message can't be deleted")
    message.deleted = True
    engine.transcript.add(Entry("delete", chat.label, message_id=message.message_id))
    return True


def _check_pin_rights(chat: Chat) -> None:
    if chat.is_group and not (chat.bot_is_admin and chat.bot_can_pin_messages):
        raise bad_request("not enough rights to manage pinned messages in the chat")


async def pin_chat_message(engine: Engine, p: Params) -> Any:
    chat = engine.world.resolve_chat(p.chat_id())
    _check_pin_rights(chat)
    message = engine.world.get_message(chat.id, p.require_int("message_id"))
    if message is None:
        raise bad_request("message to pin not found")
    engine.limiter.acquire(chat.id, is_group=chat.is_group)
    chat.pinned_message_id = message.message_id
    engine.transcript.add(Entry("pin", chat.label, message_id=message.message_id))
    return True


async def unpin_chat_message(engine: Engine, p: Params) -> Any:
    chat = engine.world.resolve_chat(p.chat_id())
    _check_pin_rights(chat)
    message_id = p.get_int("message_id")
    if message_id is not None and message_id != chat.pinned_message_id:
        raise bad_request("message to unpin not found")
    chat.pinned_message_id = None
    return True


async def send_chat_action(engine: Engine, p: Params) -> Any:
    engine.world.resolve_chat(p.chat_id())
    if p.get_str("action") not in CHAT_ACTIONS:
        raise bad_request("wrong parameter action in request")
    return True


def _store_file(engine: Engine, p: Params, field: str, prefix: str) -> tuple[str, UploadedFile]:
    upload = p.files.get(field)
    files = engine.world.files
    if upload is None:
        ref = p.get_str(field)
        if not ref:
            raise bad_request(f"there is no {field} in the request")
        if ref in files:
            name, mime, data = files[ref]
            return ref, UploadedFile(name, mime, data)
        if not ref.startswith(("http://", "https://")):
            raise bad_request("wrong file identifier/HTTP URL specified")
        upload = UploadedFile(ref.rsplit("/", 1)[-1] or field, "application/octet-stream", b"")
    file_id = f"{prefix}{len(files) + 1:06d}"
    files[file_id] = (upload.filename, upload.content_type, upload.data)
    return file_id, upload


def _png_size(data: bytes) -> tuple[int, int]:
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    return 0, 0


async def _send_media(engine: Engine, p: Params, field: str) -> Any:
    chat = engine.world.resolve_chat(p.chat_id())
    formatted = engine.format(
        p.get_str("caption"),
        p.get_str("parse_mode"),
        p.get_json("caption_entities"),
        limit=MAX_CAPTION_LENGTH,
        empty=None,
        too_long="message caption is too long",
    )
    markup = _inline_markup(p, chat)
    reply = _reply_target(engine, chat, p)
    engine.limiter.acquire(chat.id, is_group=chat.is_group)
    file_id, upload = _store_file(engine, p, field, "BQAD" if field == "document" else "AgAC")
    info: dict[str, Any] = {
        "file_id": file_id,
        "file_unique_id": f"u{file_id}",
        "file_size": len(upload.data),
    }
    media: dict[str, Any] = {}
    if field == "document":
        media["document"] = {**info, "file_name": upload.filename, "mime_type": upload.content_type}
    else:
        width, height = _png_size(upload.data)
        media["photo"] = [{**info, "width": width, "height": height}]
    message = engine.world.new_message(
        chat,
        engine.bot,
        caption=formatted.text or None,
        entities=formatted.entities,
        source=p.get_str("caption"),
        parse_mode=p.get_str("parse_mode"),
        reply_markup=markup,
        message_thread_id=p.get_int("message_thread_id"),
        reply_to_message_id=reply.message_id if reply else None,
        **media,
    )
    engine.record_bot_message("sent", message)
    return message.to_api(with_reply=reply)


async def send_document(engine: Engine, p: Params) -> Any:
    return await _send_media(engine, p, "document")


async def send_photo(engine: Engine, p: Params) -> Any:
    return await _send_media(engine, p, "photo")


async def answer_callback_query(engine: Engine, p: Params) -> Any:
    query = engine.queries.get(p.get_str("callback_query_id") or "")
    if query is None or query.answered:
        raise bad_request("query is too old and response timeout expired or query ID is invalid")
    text = p.get_str("text")
    if text is not None and utf16_len(text) > MAX_CALLBACK_ANSWER_LENGTH:
        raise bad_request("MESSAGE_TOO_LONG")
    answer = CallbackAnswer(
        text=text or None,
        show_alert=p.get_bool("show_alert"),
        url=p.get_str("url"),
        cache_time=p.get_int("cache_time") or 0,
    )
    query.answered = True
    query.entry.answered, query.entry.answer = True, answer.text
    query.entry.show_alert = answer.show_alert
    if not query.future.done():
        query.future.set_result(answer)
    return True
