"""The Bot API method table: lower-cased name -> (canonical name, handler).

Telegram matches method names case-insensitively, hence the lower-cased keys.
"""

from __future__ import annotations

from emulator import api_messages as msg
from emulator import api_misc as misc
from emulator.api_misc import Handler

_HANDLERS: dict[str, Handler] = {
    "getMe": misc.get_me,
    "getUpdates": misc.get_updates,
    "setWebhook": misc.set_webhook,
    "deleteWebhook": misc.delete_webhook,
    "getWebhookInfo": misc.get_webhook_info,
    "setMyCommands": misc.set_my_commands,
    "getMyCommands": misc.get_my_commands,
    "deleteMyCommands": misc.delete_my_commands,
    "setMyDescription": misc.set_my_description,
    "getMyDescription": misc.get_my_description,
    "setMyShortDescription": misc.set_my_short_description,
    "getMyShortDescription": misc.get_my_short_description,
    "getChat": misc.get_chat,
    "getChatMember": misc.get_chat_member,
    "getChatAdministrators": misc.get_chat_administrators,
    "getChatMemberCount": misc.get_chat_member_count,
    "getFile": misc.get_file,
    "close": misc.close,
    "logOut": misc.log_out,
    "sendMessage": msg.send_message,
    "editMessageText": msg.edit_message_text,
    "editMessageReplyMarkup": msg.edit_message_reply_markup,
    "editMessageCaption": msg.edit_message_caption,
    "deleteMessage": msg.delete_message,
    "pinChatMessage": msg.pin_chat_message,
    "unpinChatMessage": msg.unpin_chat_message,
    "sendChatAction": msg.send_chat_action,
    "sendDocument": msg.send_document,
    "sendPhoto": msg.send_photo,
    "answerCallbackQuery": msg.answer_callback_query,
}

METHODS: dict[str, tuple[str, Handler]] = {
    name.lower(): (name, handler) for name, handler in _HANDLERS.items()
}
