"""Message catalogues: gettext ``.po`` files, zh-CN first, English second.

The texts are in ``bot/locales/<locale>/LC_MESSAGES/messages.po``
(``zh_CN``, ``en``), so translators can use their usual tools. A msgid is the key
the code looks up (``t(lang, "topic.proposals", count=n)``), its msgstr the text.
The files are read once, at first use (``babel.messages.pofile.read_po``); a
language is a directory there (``pt_BR`` is ``pt-BR``), and ``language_of`` finds
it by a Telegram ``language_code``. An entry that is fuzzy is not used; one that is
missing or empty in a language is taken from zh-CN, and missing there too, the key
itself is shown.

Texts are HTML for Telegram's ``parse_mode=HTML``; every value interpolated
into them is escaped by ``t`` unless it is passed already rendered (``Markup``).
``t`` returns ``Markup`` too (markupsafe's): adding a plain string to it escapes
the string, so a rendered text stays rendered however it is put together.

Plurals: a text that counts something is a plural entry (``msgid_plural``, then
one ``msgstr[i]`` per form of its catalogue's ``Plural-Forms``: English has two,
"one" and "other", ``plural=(n != 1)``; Chinese one, ``plural=0``). **The parameter
``count`` picks the form**, and only it: ``t(EN_US, "topic.proposals", count=1)`` is
"1 proposal", ``count=2`` "2 proposals". ``count`` is a whole number (an ``int``, or
a ``Decimal``/``Fraction`` with a whole value); a fraction (0.5 service hours) takes
the last form, the general plural. A text usually shows it as ``{count}``; where it
shows the number in another way (formatted ``{hours}``, a refusal's ``{limit}``) the
caller passes ``count`` besides. A plural entry called without ``count`` is a bug
(``TypeError``); to a text that is not plural, ``count`` is a parameter like any
other. A text with two counts takes each as a plural text of its own (``roll.title``
gets ``members`` and ``households`` rendered from ``roll.members`` and
``roll.households``).
"""

from __future__ import annotations

import functools
import gettext
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from types import MappingProxyType
from typing import Final

from babel.messages.pofile import read_po
from markupsafe import Markup, escape

from domain.errors import DomainError

ZH_CN: Final = "zh-CN"
EN_US: Final = "en"
LOCALES: Final = Path(__file__).with_name("locales")
DOMAIN: Final = "messages"

Text = str | tuple[str, ...]
"""One text, or a plural entry's forms in its catalogue's order."""


@dataclass(frozen=True)
class _Catalogue:
    messages: Mapping[str, Text]
    plural: Callable[[int], int]  # a count -> the index of its form


def _read(path: Path) -> _Catalogue:
    with path.open("rb") as po:
        catalog = read_po(po, ignore_obsolete=True, abort_invalid=True)
    messages: dict[str, Text] = {}
    for message in catalog:
        if not message.id or message.fuzzy:  # the header; a guess not yet checked
            continue
        if isinstance(message.id, (list, tuple)):
            string = message.string
            forms = tuple(string) if isinstance(string, (list, tuple)) else (string or "",)
            messages[message.id[0]] = forms
        else:
            messages[message.id] = str(message.string or "")
    return _Catalogue(MappingProxyType(messages), gettext.c2py(catalog.plural_expr))


@functools.cache
def _catalogues() -> Mapping[str, _Catalogue]:
    found = {
        path.parent.parent.name.replace("_", "-"): _read(path)
        for path in sorted(LOCALES.glob(f"*/LC_MESSAGES/{DOMAIN}.po"))
    }
    if ZH_CN not in found:
        raise RuntimeError(f"no zh-CN message catalogue in {LOCALES} (installed without it?)")
    return MappingProxyType({ZH_CN: found.pop(ZH_CN), **found})


def languages() -> tuple[str, ...]:
    """The languages there are catalogues for, zh-CN first."""
    return tuple(_catalogues())


def catalogue(language: str) -> Mapping[str, Text]:
    """The entries of ``language``'s catalogue (zh-CN's for a language without one),
    as its file has them: a plural entry's value is the tuple of its forms."""
    catalogues = _catalogues()
    return (catalogues.get(language) or catalogues[ZH_CN]).messages


def language_of(code: str | None, fallback: str = ZH_CN) -> str:
    """Map a Telegram ``language_code`` (``zh-hans``, ``en-GB``…) to a catalogue."""
    known = languages()
    if code:
        code = code.lower().replace("_", "-")
        if code.startswith("zh"):
            return ZH_CN
        primary = code.split("-")[0]
        for candidates in (
            [lang for lang in known if lang.lower() == code],
            [lang for lang in known if lang.lower().split("-")[0] == primary],
        ):
            if candidates:
                return candidates[0]
    return fallback if fallback in known else ZH_CN


__all__ = [
    "EN_US",
    "ZH_CN",
    "Markup",
    "Text",
    "catalogue",
    "escape",
    "language_of",
    "languages",
    "refusal_text",
    "t",
]


def _whole(count: object, key: str) -> int | None:
    """``count`` as an int, or None for a fraction."""
    if isinstance(count, int):
        return count
    if isinstance(count, (Decimal, Fraction, float)):
        try:
            return int(count) if count == int(count) else None
        except (ValueError, OverflowError):  # NaN, infinity
            return None
    raise TypeError(f"{key!r} has plural forms: pass a number as count=, not {count!r}")


def _template(language: str, key: str, count: object) -> str:
    catalogues = _catalogues()
    for found in (catalogues.get(language), catalogues[ZH_CN]):
        text = found.messages.get(key) if found else None
        if not text or (isinstance(text, tuple) and not all(text)):
            continue  # missing or not translated: the next catalogue
        if isinstance(text, str):
            return text
        assert found is not None
        number = _whole(count, key)
        index = len(text) - 1 if number is None else found.plural(number)
        return text[min(max(index, 0), len(text) - 1)]
    return key


def t(language: str, key: str, /, **params: object) -> Markup:
    """The text ``key`` in ``language`` (zh-CN when it has none), with ``params``
    escaped unless they are ``Markup``; ``count`` picks a plural entry's form."""
    return Markup(_template(language, key, params.get("count"))).format(**params)


def joined(language: str, items: Iterable[str]) -> str:
    """Items as a list reads in ``language`` ("张阿姨、李叔叔"; "Alice, Bob"), as plain
    text: a caller that needs HTML escapes the items first, as before."""
    return _template(language, "list.separator", None).join(items)


# A refusal quotes what it refused (a rule's name, a team's): at most this much of any
# one value, so a refusal of a 4,000-character word still fits in one message.
MAX_QUOTED = 200


def refusal_text(lang: str, error: DomainError) -> str:
    """A refusal in words: ``error.<code>.<field>``, else ``error.<code>``, else a
    general one; every front end says a refusal the same way."""
    field = error.params.get("field")
    messages = catalogue(lang)
    key = f"error.{error.code}.{field}" if field else f"error.{error.code}"
    if key not in messages:
        key = f"error.{error.code}" if f"error.{error.code}" in messages else "error.error"
    params = {
        name: value[:MAX_QUOTED] + "…"
        if isinstance(value, str) and len(value) > MAX_QUOTED
        else value
        for name, value in error.params.items()
    }
    for name in ("task_state", "to"):  # a task's state, in words rather than its code
        state_key = f"task_state.{params.get(name)}"
        if state_key in messages:
            params[name] = t(lang, state_key)
    # The domain names a refusal's numbers; a plural text follows its ``count``, or its
    # ``limit`` when it has none ("You have made 1 proposal within an hour").
    if "limit" in params:
        params.setdefault("count", params["limit"])
    return "⛔ " + t(lang, key, **params)
