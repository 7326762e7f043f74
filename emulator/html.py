"""Telegram's HTML parse mode and text-length rules.

The tag grammar and the error texts follow tdlib's ``parse_html`` (which the Bot API runs),
so a bot that passes here passes on Telegram.  One deliberate difference: Telegram keeps a
bare ``&`` (or an unknown ``&name;``) as literal text, the emulator rejects it by default
(``strict_ampersand``) because that is how un-escaped user input shows up in tests; a bare
``<`` is rejected by Telegram as well.

All offsets and lengths are in UTF-16 code units, which is what Telegram counts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from emulator.errors import ApiError, bad_request

_ENTITY_OF_TAG = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "span": "spoiler",
    "tg-spoiler": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_NUMERIC_ENTITY = re.compile(r"&#(?:x([0-9a-fA-F]{1,6})|([0-9]{1,7}));?")
_NAMED_ENTITY = re.compile(r"&([a-zA-Z]+);?")
_ATTR_NAME = re.compile(r"[a-zA-Z0-9_-]+")
# Characters tdlib trims from both ends of a message.
_TRIMMED = " \t\r\n"


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


@dataclass
class FormattedText:
    """Text as Telegram stores it: no markup, plus Bot API ``MessageEntity`` dicts."""

    text: str
    entities: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class _Open:
    tag: str
    offset: int  # UTF-16 offset in the output where the tag started
    pos: int  # index in the source, for error messages
    attrs: dict[str, str]


class _HtmlParser:
    def __init__(self, source: str, strict_ampersand: bool) -> None:
        self.src = source
        self.strict = strict_ampersand
        self.i = 0
        self.out: list[str] = []
        self.offset = 0
        self.stack: list[_Open] = []
        self.entities: list[dict[str, Any]] = []

    def fail(self, reason: str) -> ApiError:
        return bad_request(f"can't parse entities: {reason}")

    def byte_offset(self, pos: int) -> int:
        return len(self.src[:pos].encode("utf-8"))

    def emit(self, text: str) -> None:
        self.out.append(text)
        self.offset += utf16_len(text)

    def parse(self) -> FormattedText:
        src = self.src
        while self.i < len(src):
            ch = src[self.i]
            if ch == "<":
                if src.startswith("</", self.i):
                    self.end_tag()
                else:
                    self.start_tag()
            elif ch == "&":
                self.emit(self.entity(self.i, in_attribute=False))
            else:
                nxt = min(_find(src, "<", self.i), _find(src, "&", self.i))
                self.emit(src[self.i : nxt])
                self.i = nxt
        if self.stack:
            tag = self.stack[-1].tag
            raise self.fail(f'Can\'t find end tag corresponding to start tag "{tag}"')
        self.entities.sort(key=lambda e: (e["offset"], -e["length"]))
        return FormattedText("".join(self.out), self.entities)

    def entity(self, start: int, *, in_attribute: bool) -> str:
        """Decode the entity at ``start`` and advance past it."""
        src = self.src
        numeric = _NUMERIC_ENTITY.match(src, start)
        if numeric:
            code = int(numeric[1], 16) if numeric[1] else int(numeric[2])
            if 0 < code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF:
                self.i = numeric.end()
                return chr(code)
        named = _NAMED_ENTITY.match(src, start)
        if named and named[1] in _NAMED_ENTITIES:
            self.i = named.end()
            return _NAMED_ENTITIES[named[1]]
        if self.strict and not in_attribute:
            raise self.fail(
                f'Unescaped "&" at byte offset {self.byte_offset(start)}; '
                "use &amp; (the emulator is stricter than Telegram here)"
            )
        self.i = start + 1
        return "&"

    def start_tag(self) -> None:
        src, begin = self.src, self.i
        j = begin + 1
        while j < len(src) and not src[j].isspace() and src[j] != ">":
            j += 1
        if j >= len(src):
            raise self.fail(f"Unclosed start tag at byte offset {self.byte_offset(begin)}")
        tag = src[begin + 1 : j].lower()
        if tag not in _ENTITY_OF_TAG:
            raise self.fail(
                f'Unsupported start tag "{tag}" at byte offset {self.byte_offset(begin)}'
            )
        self.i = j
        attrs = self.attributes(tag, begin)
        if tag == "span" and attrs.get("class") != "tg-spoiler":
            raise self.fail(
                f'Tag "span" must have class "tg-spoiler" at byte offset {self.byte_offset(begin)}'
            )
        if tag == "tg-emoji" and not attrs.get("emoji-id", "").isdigit():
            raise self.fail(
                f"Custom emoji identifier expected at byte offset {self.byte_offset(begin)}"
            )
        self.stack.append(_Open(tag, self.offset, begin, attrs))

    def attributes(self, tag: str, begin: int) -> dict[str, str]:
        src, attrs = self.src, dict[str, str]()
        while True:
            while self.i < len(src) and src[self.i].isspace():
                self.i += 1
            if self.i >= len(src):
                raise self.fail(f"Unclosed start tag at byte offset {self.byte_offset(begin)}")
            if src[self.i] == ">":
                self.i += 1
                return attrs
            name = _ATTR_NAME.match(src, self.i)
            if name is None:
                raise self.fail(
                    f'Empty attribute name in the tag "{tag}" at byte offset '
                    f"{self.byte_offset(begin)}"
                )
            self.i = name.end()
            while self.i < len(src) and src[self.i].isspace():
                self.i += 1
            if self.i < len(src) and src[self.i] == "=":
                self.i += 1
                while self.i < len(src) and src[self.i].isspace():
                    self.i += 1
                attrs[name[0].lower()] = self.attribute_value(begin)
            else:
                attrs[name[0].lower()] = ""  # valueless, e.g. <blockquote expandable>

    def attribute_value(self, begin: int) -> str:
        src = self.src
        if self.i < len(src) and src[self.i] in "\"'":
            quote = src[self.i]
            self.i += 1
            end = src.find(quote, self.i)
            if end < 0:
                raise self.fail(f"Unclosed start tag at byte offset {self.byte_offset(begin)}")
        else:
            end = self.i
            while end < len(src) and not src[end].isspace() and src[end] != ">":
                end += 1
            quote = ""
        raw, self.i = src[self.i : end], end + len(quote)
        return _decode_attribute(raw)

    def end_tag(self) -> None:
        src, begin = self.src, self.i
        close = src.find(">", begin)
        if close < 0:
            raise self.fail(f"Unclosed end tag at byte offset {self.byte_offset(begin)}")
        tag = src[begin + 2 : close].strip().lower()
        if not self.stack:
            raise self.fail(f"Unexpected end tag at byte offset {self.byte_offset(begin)}")
        opened = self.stack.pop()
        if tag != opened.tag:
            raise self.fail(
                f"Unmatched end tag at byte offset {self.byte_offset(begin)}, "
                f'expected "</{opened.tag}>", found "</{tag}>"'
            )
        self.i = close + 1
        self.close(opened)

    def close(self, opened: _Open) -> None:
        length = self.offset - opened.offset
        if length <= 0:
            return
        if opened.tag == "code" and self.stack and self.stack[-1].tag == "pre":
            # <pre><code class="language-x"> is one "pre" entity carrying the language.
            language = opened.attrs.get("class", "")
            if language.startswith("language-") and self.stack[-1].offset == opened.offset:
                self.stack[-1].attrs["language"] = language.removeprefix("language-")
                return
        entity: dict[str, Any] = {
            "type": _ENTITY_OF_TAG[opened.tag],
            "offset": opened.offset,
            "length": length,
        }
        if opened.tag == "a":
            entity["url"] = opened.attrs.get("href", "")
        elif opened.tag == "pre" and "language" in opened.attrs:
            entity["language"] = opened.attrs["language"]
        elif opened.tag == "tg-emoji":
            entity["custom_emoji_id"] = opened.attrs["emoji-id"]
        elif opened.tag == "blockquote" and "expandable" in opened.attrs:
            entity["type"] = "expandable_blockquote"
        self.entities.append(entity)


def _find(text: str, needle: str, start: int) -> int:
    found = text.find(needle, start)
    return len(text) if found < 0 else found


def _decode_attribute(raw: str) -> str:
    parser = _HtmlParser(raw, strict_ampersand=False)
    out: list[str] = []
    while parser.i < len(raw):
        if raw[parser.i] == "&":
            out.append(parser.entity(parser.i, in_attribute=True))
        else:
            out.append(raw[parser.i])
            parser.i += 1
    return "".join(out)


def parse_html(source: str, *, strict_ampersand: bool = True) -> FormattedText:
    """Parse Telegram HTML into plain text + entities, raising 400 like Telegram does."""
    return _HtmlParser(source, strict_ampersand).parse()


def trim(formatted: FormattedText) -> FormattedText:
    """Strip surrounding whitespace as Telegram does, clipping entities to what remains."""
    text = formatted.text
    stripped = text.strip(_TRIMMED)
    if stripped == text:
        return formatted
    lead = utf16_len(text[: len(text) - len(text.lstrip(_TRIMMED))])
    end = lead + utf16_len(stripped)
    entities = []
    for entity in formatted.entities:
        start = max(entity["offset"], lead)
        stop = min(entity["offset"] + entity["length"], end)
        if stop > start:
            entities.append({**entity, "offset": start - lead, "length": stop - start})
    return FormattedText(stripped, entities)


def format_text(
    source: str,
    parse_mode: str | None,
    entities: list[dict[str, Any]] | None,
    *,
    strict_ampersand: bool = True,
) -> FormattedText:
    """Turn a ``text``/``caption`` parameter into what Telegram would store.

    MarkdownV2 and Markdown are accepted but *not* validated or parsed: the text is stored
    raw, so tests relying on markup validation should use HTML (as Yishi does).
    """
    mode = (parse_mode or "").lower()
    if mode == "html":
        formatted = parse_html(source, strict_ampersand=strict_ampersand)
    elif mode in ("", "markdown", "markdownv2"):
        formatted = FormattedText(source, list(entities or []))
    else:
        raise bad_request(f"unsupported parse_mode {parse_mode!r}")
    return trim(formatted)


def html_to_plain(source: str) -> str:
    """Best-effort plain text of bot HTML for display; never raises."""
    try:
        return parse_html(source, strict_ampersand=False).text
    except ApiError:
        return source
