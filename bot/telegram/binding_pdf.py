"""The printable cards of binding codes: A4, eight cards a page, cut along the dashes.

Each card carries the council's name, the household's address, the member's name, the
code and a QR code of the bot's deep link (``https://t.me/<bot>?start=<code>``), which a
phone's camera opens in Telegram. Where the web is served, a second QR code beside it
holds the residents' page with the household's login key (``<web>/k/<key>``), for
WeChat and any browser, which cannot open a ``t.me`` link; each code is labelled.

fpdf2 writes the PDF: pure Python, and unlike ReportLab it embeds OpenType fonts with
CFF outlines, which Noto Sans CJK is (Debian's ``fonts-noto-cjk`` ships nothing else),
subset to the characters used. segno makes the QR codes (pure Python, no
dependencies); they are drawn as vector rectangles, sharp at any printer's resolution.
Both are imported when a PDF is made, not when the bot starts.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from bot.i18n import t
from bot.telegram.render import deep_link

if TYPE_CHECKING:
    from fpdf import FPDF

FONT_PACKAGE = "fonts-noto-cjk"
# Where Debian (and Ubuntu) put Noto Sans CJK; Fedora's and Arch's paths as well.
FONT_PATHS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJKsc-Regular.otf",
)

# A4 portrait in millimetres: two columns of four cards.
PAGE_W, PAGE_H = 210.0, 297.0
COLUMNS, ROWS = 2, 4
CARD_W, CARD_H = 95.0, 68.0
PAD = 5.0
QR_SIZE = 32.0  # with its quiet zone of four modules
QR_BORDER = 4
# Two codes side by side (the web's beside Telegram's), each labelled underneath.
PAIR_SIZE = 24.0
PAIR_GAP = 2.0
LABEL_SIZE = 6.5  # points
LABEL_LINE = 2.6  # mm
FOOTER_SIZE = 7  # points
FOOTER_LINE = 3.2  # mm


class FontMissing(RuntimeError):
    """No CJK font to print Chinese with; the message says which package to install."""


@dataclass(frozen=True)
class Font:
    path: Path
    index: int  # the face within a collection (.ttc); 0 for a single font


@dataclass(frozen=True)
class PrintedCard:
    household: str
    name: str
    code: str
    web: str | None = None  # the residents' page with the household's login key


def find_font(configured: str | None = None) -> Font:
    """The CJK font to print with: ``configured`` (``YISHI_CARDS_FONT``) if given, else
    Noto Sans CJK where the distributions install it; ``FontMissing`` otherwise. Called
    before any code is issued, so a missing font never ends cards that were not printed."""
    if configured:
        path = Path(configured)
        if not path.is_file():
            raise FontMissing(f"the font YISHI_CARDS_FONT names does not exist: {path}")
    else:
        found = next((Path(p) for p in FONT_PATHS if Path(p).is_file()), None)
        if found is None:
            raise FontMissing(
                "No Chinese (CJK) font is installed, so the cards cannot be printed. "
                f"Install Debian's {FONT_PACKAGE} (apt-get install {FONT_PACKAGE}), "
                "or set YISHI_CARDS_FONT to a CJK font file."
            )
        path = found
    return Font(path, _simplified_face(path))


def _simplified_face(path: Path) -> int:
    """In a collection, the Simplified Chinese face (Noto's "… CJK SC"), so that
    characters shared by the CJK languages take their mainland shapes."""
    if path.suffix.lower() != ".ttc":
        return 0
    from fontTools.ttLib import TTCollection

    collection = TTCollection(str(path), lazy=True)
    try:
        for index, face in enumerate(collection.fonts):
            family = face["name"].getDebugName(1) or ""
            if family.endswith(" SC") and "Mono" not in family:
                return index
    finally:
        collection.close()
    return 0


def render(
    cards: Sequence[PrintedCard],
    *,
    council: str,
    bot_username: str,
    expires_at: datetime,
    lang: str,
    font: Font,
) -> bytes:
    """The PDF of ``cards``, in their order (eight to a page)."""
    from fpdf import FPDF

    pdf = FPDF(orientation="portrait", unit="mm", format="A4")
    pdf.set_auto_page_break(False)
    pdf.set_creator("Yishi")
    pdf.set_title(_text(lang, "card.document", council=council))
    pdf.add_font("cjk", fname=str(font.path), collection_font_number=font.index)
    valid = _text(lang, "card.valid", date=expires_at.strftime("%Y-%m-%d"))
    pdf.add_page()  # breaking the footer's lines needs one
    footer = _lines(pdf, lang, _text(lang, "card.how", bot=bot_username)), _lines(pdf, lang, valid)
    per_page = COLUMNS * ROWS
    left = (PAGE_W - COLUMNS * CARD_W) / 2
    top = (PAGE_H - ROWS * CARD_H) / 2
    for n, card in enumerate(cards):
        if n and n % per_page == 0:
            pdf.add_page()
        slot = n % per_page
        x = left + (slot % COLUMNS) * CARD_W
        y = top + (slot // COLUMNS) * CARD_H
        _card(pdf, x, y, card, council, bot_username, footer, lang)
    return bytes(pdf.output())


def _card(
    pdf: FPDF,
    x: float,
    y: float,
    card: PrintedCard,
    council: str,
    bot: str,
    footer: tuple[list[str], list[str]],
    lang: str,
) -> None:
    pdf.set_draw_color(150)
    pdf.set_line_width(0.2)
    with pdf.local_context():
        pdf.set_dash_pattern(dash=1.5, gap=1.5)
        pdf.rect(x, y, CARD_W, CARD_H)
    inner = CARD_W - 2 * PAD
    pair = card.web is not None
    beside_qr = inner - (2 * PAIR_SIZE + PAIR_GAP if pair else QR_SIZE) - 2
    pdf.set_text_color(90)
    _line(pdf, x + PAD, y + PAD, inner, 9, council)
    _line(pdf, x + PAD, y + PAD + 4.5, inner, 7.5, _text(lang, "card.heading"))
    pdf.set_text_color(0)
    _line(pdf, x + PAD, y + 17, beside_qr, 17, card.household)
    _line(pdf, x + PAD, y + 26, beside_qr, 12, card.name)
    pdf.set_text_color(90)
    _line(pdf, x + PAD, y + 34, beside_qr, 7.5, _text(lang, "card.code"))
    pdf.set_text_color(0)
    _line(pdf, x + PAD, y + 38, beside_qr, 15, card.code)
    if card.web is not None:
        web_x = x + CARD_W - PAD - PAIR_SIZE
        telegram_x = web_x - PAIR_GAP - PAIR_SIZE
        _qr(pdf, telegram_x, y + 13, deep_link(bot, card.code), PAIR_SIZE)
        _qr(pdf, web_x, y + 13, card.web, PAIR_SIZE)
        _label(pdf, telegram_x, y + 13 + PAIR_SIZE, _text(lang, "card.scan_telegram"), lang)
        _label(pdf, web_x, y + 13 + PAIR_SIZE, _text(lang, "card.scan_web"), lang)
    else:
        _qr(pdf, x + CARD_W - PAD - QR_SIZE, y + 14, deep_link(bot, card.code))
    pdf.set_text_color(60)
    pdf.set_font("cjk", size=FOOTER_SIZE)
    how, valid = footer
    for n, text in enumerate([*how, f"/start {card.code}", *valid]):
        pdf.set_xy(x + PAD, y + 48 + n * FOOTER_LINE)
        pdf.cell(CARD_W - 2 * PAD, FOOTER_LINE, text)
    pdf.set_text_color(0)


def _lines(pdf: FPDF, lang: str, text: str) -> list[str]:
    """``text`` broken into the footer's lines, once for every card (breaking it is most
    of the time a card takes to write)."""
    from fpdf.enums import MethodReturnValue, WrapMode

    pdf.set_font("cjk", size=FOOTER_SIZE)
    # Chinese has no spaces to break at: a line may break between any two characters.
    wrap = WrapMode.WORD if lang.startswith("en") else WrapMode.CHAR
    lines = pdf.multi_cell(
        CARD_W - 2 * PAD,
        FOOTER_LINE,
        text,
        wrapmode=wrap,
        dry_run=True,
        output=MethodReturnValue.LINES,
    )
    assert isinstance(lines, list)
    return [str(line) for line in lines]


def _line(pdf: FPDF, x: float, y: float, width: float, size: float, text: str) -> None:
    """One line of ``text`` at ``size`` points, smaller (down to 60 %) and then cut with
    "…" when it is wider than ``width``: a long council name or address never spills."""
    smallest = size * 0.6
    pdf.set_font("cjk", size=size)
    while pdf.get_string_width(text) > width and size > smallest:
        size -= 0.5
        pdf.set_font("cjk", size=size)
    if pdf.get_string_width(text) > width:
        while text and pdf.get_string_width(text + "…") > width:
            text = text[:-1]
        text += "…"
    pdf.set_xy(x, y)
    pdf.cell(width, size * 0.4, text)


def _label(pdf: FPDF, x: float, y: float, text: str, lang: str) -> None:
    """What a QR code is for, centred under it on a line or two."""
    from fpdf.enums import Align, WrapMode

    pdf.set_text_color(0)
    pdf.set_font("cjk", size=LABEL_SIZE)
    pdf.set_xy(x - PAIR_GAP / 2, y)
    pdf.multi_cell(
        PAIR_SIZE + PAIR_GAP,
        LABEL_LINE,
        text,
        align=Align.C,
        wrapmode=WrapMode.WORD if lang.startswith("en") else WrapMode.CHAR,
        max_line_height=LABEL_LINE,
    )


def _qr(pdf: FPDF, x: float, y: float, url: str, size: float = QR_SIZE) -> None:
    import segno

    qr = segno.make(url, error="m", micro=False)
    matrix = [list(row) for row in qr.matrix_iter(scale=1, border=QR_BORDER)]
    module = size / len(matrix)
    pdf.set_fill_color(0)
    # One rectangle per run of dark modules in a row: a tenth of the drawing operators.
    for r, row in enumerate(matrix):
        c = 0
        while c < len(row):
            if not row[c]:
                c += 1
                continue
            start = c
            while c < len(row) and row[c]:
                c += 1
            pdf.rect(x + start * module, y + r * module, (c - start) * module, module, style="F")


def _text(lang: str, key: str, **params: object) -> str:
    """A catalogue text as plain text: the catalogue escapes parameters for Telegram's HTML."""
    return html.unescape(str(t(lang, key, **params)))
