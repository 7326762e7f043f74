"""`yishi cards`: the printed binding cards, read back as a person and a phone would.

Each page of the PDF is rendered to an image (pypdfium2, PDFium's renderer), each
card's QR code decoded by a real decoder (zxing-cpp) and its text read from the PDF;
the link a phone would open must carry the code printed on the same card, and binding
with it must bind the member that card names.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pypdfium2
import pytest
import zxingcpp
from pydantic import SecretStr

from bot.cli import main
from bot.config import Settings
from bot.keys import web_key
from bot.telegram import binding_pdf
from bot.telegram.app import signer_for
from bot.telegram.handlers.binding import CODES
from bot.web.app import build_web
from bot.web_links import key_url
from domain import binding, services
from domain.model import Member
from domain.services import web_access
from domain.services.binding import bind
from emulator import BotApiEmulator
from storage.uow import Database

MM = 72 / 25.4  # PDF points per millimetre
DPI = 200
BOT = "yishi_cards_bot"
NAMES = [
    "张桂兰",
    "李建国",
    "欧阳秀英",
    "王淑珍",
    "赵德胜",
    "司马懿兰",
    "刘玉梅",
    "陈志强",
    "黄丽娟",
]


@dataclass(frozen=True)
class ReadCard:
    text: str  # what is printed on it
    link: str  # what its (Telegram) QR code says
    web: str | None = None  # what its second QR code says, the web page's, if it has one


def read_cards(pdf: Path) -> list[ReadCard]:
    """Every card of the PDF, page by page, slot by slot, as printed."""
    document = pypdfium2.PdfDocument(pdf)
    cards = []
    left = (binding_pdf.PAGE_W - binding_pdf.COLUMNS * binding_pdf.CARD_W) / 2
    top = (binding_pdf.PAGE_H - binding_pdf.ROWS * binding_pdf.CARD_H) / 2
    for page in document:
        image = page.render(scale=DPI / 72).to_pil()
        text = page.get_textpage()
        height = page.get_height()
        for slot in range(binding_pdf.COLUMNS * binding_pdf.ROWS):
            x = left + (slot % binding_pdf.COLUMNS) * binding_pdf.CARD_W
            y = top + (slot // binding_pdf.COLUMNS) * binding_pdf.CARD_H
            box = (x, y, x + binding_pdf.CARD_W, y + binding_pdf.CARD_H)  # mm, from the top
            bounded = text.get_text_bounded(
                box[0] * MM, height - box[3] * MM, box[2] * MM, height - box[1] * MM
            )
            printed = "\n".join(line.strip() for line in bounded.splitlines()).strip()
            if not printed:
                continue  # the last page's empty slots
            pixels = tuple(round(v * MM * DPI / 72) for v in box)
            found = zxingcpp.read_barcodes(image.crop(pixels))
            assert len(found) in (1, 2), (slot, printed, found)
            assert all(code.format == zxingcpp.BarcodeFormat.QRCode for code in found)
            # Left to right: Telegram's, then the web page's.
            found = sorted(found, key=lambda code: code.position.top_left.x)
            web = found[1].text if len(found) == 2 else None
            cards.append(ReadCard(printed, found[0].text, web))
    return cards


@pytest.fixture
def settings_env(migrated_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.chdir(tmp_path)  # no .env of the developer's
    for name in (
        "YISHI_TELEGRAM_TOKEN",
        "YISHI_TELEGRAM_BASE_URL",
        "YISHI_CARDS_FONT",
        "YISHI_WEB_URL",
        "YISHI_WEB_IN_RUN",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("YISHI_DATABASE_URL", migrated_url)
    monkeypatch.setenv("YISHI_SECRET", SECRET)
    return migrated_url


SECRET = "the bot's secret"
# The key the bot checks codes with, derived as the bot derives it from its settings.
KEY = signer_for(Settings(secret=SecretStr(SECRET)), "").key_for(CODES)


@pytest.fixture
async def database(settings_env: str) -> AsyncIterator[Database]:
    db = await Database.open(settings_env)
    try:
        yield db
    finally:
        await db.dispose()


async def council_with_roster(db: Database, names: list[str]) -> int:
    """A council whose roll was imported: entries without accounts, and one with."""
    now = datetime.now(UTC)
    council = await services.set_up_council(
        db.uow(), chat_id=-100_42, thread_id=0, title="杨家园社区小院议事会", user_id=1,
        is_group_admin=True, rule_name="simple", timezone="Asia/Shanghai", language="zh-CN",
        now=now,
    )  # fmt: skip
    assert council.id is not None
    async with db.uow() as uow:
        for n, name in enumerate(names):
            building, room = 3 + n // 4, 301 + n
            await uow.members.add(
                Member(council.id, None, name, str(building), "2", str(room), joined_at=now)
            )
        await uow.members.add(Member(council.id, 900, "已绑定", "9", "9", "999", joined_at=now))
        await uow.commit()
    return council.id


async def yishi(*argv: str) -> int:
    """``yishi …`` in a thread: the command runs its own event loop, as it does in a shell."""
    return await asyncio.to_thread(main, list(argv))


async def test_every_qr_code_binds_the_member_its_card_names(
    database: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    council_id = await council_with_roster(database, NAMES)
    out = tmp_path / "cards.pdf"
    assert await yishi("cards", "--council", str(council_id), "--out", str(out), "--bot", BOT) == 0
    assert f"{len(NAMES)} cards of 杨家园社区小院议事会 written to {out}" in capsys.readouterr().out
    assert len(pypdfium2.PdfDocument(out)) == 2  # eight cards a page

    cards = read_cards(out)
    assert len(cards) == len(NAMES)
    households = []
    for user_id, card in enumerate(cards, 5001):
        prefix = f"https://t.me/{BOT}?start="
        assert card.link.startswith(prefix), card.link
        payload = card.link.removeprefix(prefix)
        assert binding.read_code(payload) == payload and payload in card.text
        assert "杨家园社区小院议事会" in card.text and "居民绑定卡" in card.text
        assert card.web is None and "微信" not in card.text  # no web configured: no key
        bound = await bind(
            database.uow(),
            text=payload,
            user_id=user_id,
            language=None,
            now=datetime.now(UTC),
            key=KEY,
        )
        assert bound.refusal is None and bound.member is not None
        assert bound.member.name in card.text and bound.member.household in card.text
        households.append(bound.member.household)
    # In address order, for a walk from door to door; the bound member got no card.
    assert households == [f"{3 + n // 4}-2-{301 + n}" for n in range(len(NAMES))]


async def test_a_building_only_and_the_bots_name_asked_of_telegram(
    database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    council_id = await council_with_roster(database, NAMES)
    out = tmp_path / "building4.pdf"
    async with BotApiEmulator() as emu:
        assert emu.token is not None
        monkeypatch.setenv("YISHI_TELEGRAM_TOKEN", emu.token)
        monkeypatch.setenv("YISHI_TELEGRAM_BASE_URL", emu.base_url)
        assert await yishi("cards", "--council", str(council_id), "--out", str(out), "4") == 0
        bot = emu.bot_username
    cards = read_cards(out)
    assert [card.text.split("\n")[2] for card in cards] == [
        "4-2-305",
        "4-2-306",
        "4-2-307",
        "4-2-308",
    ]
    assert all(card.link.startswith(f"https://t.me/{bot}?start=") for card in cards)


async def test_what_is_refused_prints_nothing_and_ends_no_card(
    database: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    council_id = await council_with_roster(database, NAMES[:1])
    first = tmp_path / "first.pdf"
    assert (
        await yishi("cards", "--council", str(council_id), "--out", str(first), "--bot", BOT) == 0
    )
    (card,) = read_cards(first)
    code = card.link.rsplit("=", 1)[1]
    capsys.readouterr()

    out = tmp_path / "cards.pdf"
    missing_font = str(tmp_path / "no-such-font.ttc")
    monkeypatch.setenv("YISHI_CARDS_FONT", missing_font)
    assert await yishi("cards", "--council", str(council_id), "--out", str(out), "--bot", BOT) == 2
    assert (
        f"the font YISHI_CARDS_FONT names does not exist: {missing_font}" in capsys.readouterr().err
    )
    monkeypatch.delenv("YISHI_CARDS_FONT")
    for argv, error in [
        (["--council", "999", "--bot", BOT], "there is no council with that number"),
        (["--council", str(council_id), "--bot", BOT, "5"], "no cards"),  # no such building
        (["--council", str(council_id)], "set YISHI_TELEGRAM_TOKEN"),  # no --bot, no token
    ]:
        assert await yishi("cards", *argv, "--out", str(out)) == 2
        assert error in capsys.readouterr().err
    assert not out.exists()
    # The first card still binds: nothing above ended it.
    bound = await bind(
        database.uow(), text=code, user_id=77, language=None, now=datetime.now(UTC), key=KEY
    )
    assert bound.refusal is None

    # Without --council: the councils, with the numbers --council takes.
    assert await yishi("cards") == 2
    assert capsys.readouterr().out == f"#{council_id} 杨家园社区小院议事会\n"


def test_a_missing_cjk_font_names_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(binding_pdf, "FONT_PATHS", ())
    with pytest.raises(binding_pdf.FontMissing) as missing:
        binding_pdf.find_font()
    assert "apt-get install fonts-noto-cjk" in str(missing.value)
    assert "YISHI_CARDS_FONT" in str(missing.value)


def test_the_simplified_chinese_face_of_the_collection_is_used() -> None:
    font = binding_pdf.find_font()
    if font.path.suffix == ".ttc":
        from fontTools.ttLib import TTCollection

        face = TTCollection(str(font.path), lazy=True).fonts[font.index]
        assert face["name"].getDebugName(1) == "Noto Sans CJK SC"


def test_long_names_shrink_and_are_cut_never_spill(tmp_path: Path) -> None:
    """A council's 120-character title and a long name stay within their card."""
    font = binding_pdf.find_font()
    long_title, CODE = "兰州市七里河区西园街道杨家园社区" * 8, "ABCD-EFGH-JKLM"
    pdf = binding_pdf.render(
        [binding_pdf.PrintedCard("12-3-2101", "Margaret Thompson-Wu（外籍）" * 2, CODE)],
        council=long_title, bot_username=BOT, expires_at=datetime(2027, 1, 5, tzinfo=UTC),
        lang="en", font=font,
    )  # fmt: skip
    path = tmp_path / "one.pdf"
    path.write_bytes(pdf)
    (card,) = read_cards(path)
    first_line = card.text.split("\n")[0]
    assert first_line.endswith("…") and first_line.startswith("兰州市七里河区西园街道杨家园社区")
    assert "Binding code" in card.text and "Valid until 2027-01-05" in card.text
    assert card.link == f"https://t.me/{BOT}?start={CODE}"


async def test_without_the_bots_secret_no_card_is_printed(
    database: Database,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The codes are checked with a key derived from the bot's secret (or token): cards
    printed without it could never bind, so none are."""
    council_id = await council_with_roster(database, NAMES)
    monkeypatch.delenv("YISHI_SECRET")
    out = tmp_path / "cards.pdf"
    assert await yishi("cards", "--council", str(council_id), "--out", str(out), "--bot", BOT) == 2
    assert "set YISHI_SECRET (or YISHI_TELEGRAM_TOKEN)" in capsys.readouterr().err
    assert not out.exists()


WEB = "https://yishi.example.org"


async def test_with_the_web_the_second_code_signs_the_household_in_on_the_page(
    database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where the web is served, each card's second QR code is the residents' page with
    the household's login key, for WeChat and any browser; scanned, it signs the browser
    in as the household the card names, on the web itself."""
    council_id = await council_with_roster(database, NAMES)
    monkeypatch.setenv("YISHI_WEB_URL", WEB)
    out = tmp_path / "cards.pdf"
    assert await yishi("cards", "--council", str(council_id), "--out", str(out), "--bot", BOT) == 0
    cards = read_cards(out)
    assert len(cards) == len(NAMES)
    assert len(pypdfium2.PdfDocument(out)) == 2  # still eight cards a page
    settings = Settings()
    # The key the web checks login keys with, derived as the bot derives it.
    key = web_key(settings, "")
    app = build_web(settings, database, token="")
    tokens = []
    for card in cards:
        assert card.link.startswith(f"https://t.me/{BOT}?start=")
        assert card.web is not None and card.web.startswith(f"{WEB}/k/"), card.web
        assert "微信或浏览器扫码进入" in card.text and "Telegram 扫码绑定" in card.text
        token = card.web.removeprefix(f"{WEB}/k/")
        assert card.web == key_url(settings, token)
        tokens.append(token)
        # Scanned: the page, its one big button, and the household signed in.
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=WEB) as browser:
            shown = await browser.get(f"/k/{token}")
            assert shown.status_code == 200
            found = re.search(r'name="form_token" value="([0-9a-f]+)"', shown.text)
            assert found, shown.text
            signed = await browser.post(
                f"/k/{token}", data={"form_token": found.group(1)}, headers={"origin": WEB}
            )
            assert signed.status_code == 303 and signed.headers["location"] == "/r"
            home = await browser.get("/r")
            assert home.status_code == 200
            name = card.text.split("\n")[3]
            assert name in NAMES and name in home.text
    assert len(set(tokens)) == len(NAMES)

    # The use case takes the same key; reprinting ends the old keys with the old codes.
    signed_in = await web_access.sign_in_by_key(
        database.uow(), token=tokens[0], client="test", now=datetime.now(UTC), key=key
    )
    assert signed_in.refusal is None and signed_in.session is not None
    reprinted = tmp_path / "again.pdf"
    assert (
        await yishi("cards", "--council", str(council_id), "--out", str(reprinted), "--bot", BOT)
        == 0
    )
    again = await web_access.sign_in_by_key(
        database.uow(), token=tokens[0], client="test", now=datetime.now(UTC), key=key
    )
    assert again.refusal is not None
    (first, *_) = read_cards(reprinted)
    fresh = await web_access.sign_in_by_key(
        database.uow(),
        token=(first.web or "").removeprefix(f"{WEB}/k/"),
        client="test",
        now=datetime.now(UTC),
        key=key,
    )
    assert fresh.refusal is None and fresh.session is not None
    assert fresh.session.member_id is not None
    async with database.uow() as uow:
        member = await uow.members.get(fresh.session.member_id)
    assert member is not None and member.name in first.text
