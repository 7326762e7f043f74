"""Reading the numbers people type: ids ("#12"), counts, amounts ("85.5").

Every id or number a member types (or that comes back in a button or a deep link)
is read here, and only here. What counts as a digit is the ASCII 0-9: ``str.isdigit``
also accepts "²" and "٣", and ``int()`` reads "٣" as 3 but fails on "²". The one
exception is what a Chinese input method types in full-width mode ("１２", "＃",
"．", the ideographic space): :func:`fold` turns those into ASCII first, so "＃１２"
is #12 and "８５．５" is 85.5. Ids must be positive and fit a signed 64-bit integer,
the database's keys; anything else is refused with ``InvalidInput`` saying what is
expected, never passed on to fail in the database.
"""

from __future__ import annotations

import re
from decimal import Decimal

from domain import errors

MAX_ID = 2**63 - 1  # a signed 64-bit integer: what the database's keys hold
MAX_ECHO = 30  # characters of a refused text quoted back in the refusal

# Full-width ASCII variants (U+FF01-U+FF5E) and the ideographic space, as a Chinese
# input method types them in full-width mode: the same characters, wider.
_WIDE = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)} | {0x3000: ord(" ")}
_DECIMAL = re.compile(r"[0-9]+(?:\.[0-9]*)?|\.[0-9]+")


def fold(text: str) -> str:
    """``text`` with full-width forms ("１２：３０", "＃５") turned into ASCII ("12:30", "#5").

    One character for one, so positions in the folded text are positions in ``text``."""
    return text.translate(_WIDE)


def is_digits(text: str) -> bool:
    """True for a non-empty run of ASCII digits 0-9 (after :func:`fold`) and nothing else."""
    text = fold(text)
    return bool(text) and text.isascii() and text.isdigit()


def looks_like_id(text: str) -> bool:
    """Whether ``text`` is meant as an id: "#" and anything, or digits of any script.

    Lets a command tell "#²" or "٣" (an id written wrongly, refused as such by
    :func:`parse_id`) from a word that is something else altogether."""
    text = fold(text.strip())
    return text.startswith("#") or (bool(text) and all(c.isdigit() for c in text))


def _canonical(text: str) -> bool:
    """ASCII digits as ``str(n)`` writes them: no sign, no leading zero, no folding."""
    return text.isascii() and text.isdigit() and (text == "0" or not text.startswith("0"))


def read_id(text: str) -> int | None:
    """The id ``text`` spells, or None: exactly as the bot writes ids in button data
    and deep links (``str(id)``: ASCII digits, no "#", no leading zero), 1 to
    :data:`MAX_ID`, so each id has one spelling."""
    if not _canonical(text) or len(text) > len(str(MAX_ID)):
        return None
    number = int(text)
    return number if 0 < number <= MAX_ID else None


def parse_id(text: str) -> int:
    """An id a member typed, "12" or "#12" (full-width too), or ``InvalidInput``:
    ``field="id"`` when it is not written with the digits 0-9, ``field="id_range"``
    when it is 0 or beyond :data:`MAX_ID` (no such id can exist)."""
    shown = text.strip()[:MAX_ECHO]
    digits = fold(text.strip())
    if digits.startswith("#"):
        digits = digits[1:]
    if not is_digits(digits):
        raise errors.InvalidInput(field="id", value=shown)
    found = read_id(digits.lstrip("0"))  # "007" is 7; "000" is no id
    if found is None:
        raise errors.InvalidInput(field="id_range", value=shown, max=MAX_ID)
    return found


def leading_id(text: str) -> tuple[int | None, str]:
    """An id written first, "#3 清运垃圾" or "#3清运垃圾" -> (3, the rest); (None, ``text``)
    when ``text`` does not start with "#" and a digit. Digits of any script are taken as
    meant for the id, so "#²…" is refused by :func:`parse_id`, not read as a title."""
    folded = fold(text)
    if not folded.startswith("#"):
        return None, text
    end = 1
    while end < len(folded) and folded[end].isdigit():
        end += 1
    if end == 1:
        return None, text
    return parse_id(text[:end]), text[end:]


def read_index(text: str, size: int) -> int | None:
    """A position 0 to ``size`` - 1 in a list the bot showed (button data, written as
    ``str(index)``), or None."""
    if not _canonical(text) or len(text) > len(str(size)):
        return None
    index = int(text)
    return index if index < size else None


def parse_decimal(
    text: str,
    *,
    field: str,
    maximum: Decimal,
    places: int | None = 2,
    units: tuple[str, ...] = (),
) -> Decimal:
    """A non-negative amount such as "85.5" (full-width too) at most ``maximum``,
    rounded to ``places`` decimals (None: exactly as written), followed by one of
    ``units`` ("㎡") or not; else ``InvalidInput(field=field, value=…)``.

    Only digits 0-9 and one decimal point: no sign, exponent ("1e5"), "NaN",
    "Infinity", "1_000" or digits of other scripts, all of which ``Decimal`` accepts."""
    shown = text.strip()[:MAX_ECHO]
    digits = fold(text).strip()
    for unit in units:
        if digits.endswith(unit):
            digits = digits.removesuffix(unit).rstrip()
            break
    if len(digits) > 40 or _DECIMAL.fullmatch(digits) is None:
        raise errors.InvalidInput(field=field, value=shown)
    amount = Decimal(digits)
    if amount > maximum:
        raise errors.InvalidInput(field=field, value=shown)
    return amount if places is None else amount.quantize(Decimal(1).scaleb(-places))
