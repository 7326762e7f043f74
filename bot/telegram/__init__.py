"""The Telegram front end (python-telegram-bot): handlers, rendering, buttons and
texts, receiving updates (polling or webhook), and the Telegram side of the
messenger port (:mod:`bot.telegram.messenger`)."""
