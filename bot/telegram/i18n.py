"""Message catalogue: zh-CN first, English second.

Texts are HTML for Telegram's ``parse_mode=HTML``; every value interpolated
into them is escaped by ``t`` unless it is passed already rendered (``Markup``).
"""

from __future__ import annotations

import html
from typing import Final

from bot.telegram.texts_en import EN
from bot.telegram.texts_zh import ZH

ZH_CN: Final = "zh-CN"
EN_US: Final = "en"
CATALOGUES: Final[dict[str, dict[str, str]]] = {ZH_CN: ZH, EN_US: EN}


class Markup(str):
    """Text that is already HTML and must not be escaped again."""


def language_of(code: str | None, fallback: str = ZH_CN) -> str:
    """Map a Telegram ``language_code`` (``zh-hans``, ``en-GB``…) to a catalogue."""
    if not code:
        return fallback if fallback in CATALOGUES else ZH_CN
    code = code.lower()
    if code.startswith("zh"):
        return ZH_CN
    if code.startswith("en"):
        return EN_US
    return fallback if fallback in CATALOGUES else ZH_CN


def escape(value: object) -> str:
    if isinstance(value, Markup):
        return value
    return html.escape(str(value), quote=False)


def t(language: str, key: str, /, **params: object) -> str:
    catalogue = CATALOGUES.get(language, ZH)
    template = catalogue.get(key) or ZH.get(key) or key
    return template.format(**{name: escape(value) for name, value in params.items()})
