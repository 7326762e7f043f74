"""`yishi demo`, played to the end and read as a newcomer reads it: the roll file
imported, a binding card's code binding the co-owner (the very code the PDF carries,
read back with a QR decoder), 王奶奶's raised hand recorded, and the outcome counting
votes by source; without a CJK font, the bot's refusal names the package and the demo
goes on."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.cli.demo import Printer, _script, play
from bot.telegram import binding_pdf
from bot.telegram.local import local_bot
from tests.cli.test_cards import read_cards

GROUP = "杨家园社区小院议事会"
# The one failure a reader sees, on purpose: 赵奶奶 never opened a private chat with the
# bot, and the group is told to ask her to.
UNREACHABLE = "[私聊·赵奶奶] ⛔ sendMessage → 403 Forbidden: bot can't initiate conversation"


def _code(note: str) -> str:
    """The binding code a narrator's note names (twice: in Chinese and in English)."""
    first, second = re.findall(r"\b[2-9A-Z]{4}-[2-9A-Z]{4}-[2-9A-Z]{4}\b", note)
    assert first == second, note
    return str(first)


def _failures(lines: list[str]) -> list[str]:
    """The emulator's lines for calls it refused (a message not modified, say)."""
    return [line for line in lines if re.match(r"\[[^\]]+\] ⛔ ", line)]


async def test_the_demo_imports_the_roll_binds_by_the_printed_code_and_records_a_raised_hand(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    binding_pdf.find_font()  # CI installs fonts-noto-cjk; without it this fails naming it
    async with local_bot(
        f"sqlite:///{tmp_path / 'demo.sqlite3'}", tally_edit_interval=0.3, language="zh-CN"
    ) as local:
        await _script(local, Printer(local.emulator), "zh-hans")
        pdfs = [
            (name, data)
            for name, _mime, data in local.emulator._engine.world.files.values()
            if name.endswith(".pdf")
        ]
    lines = capsys.readouterr().out.splitlines()

    # The roll file: checked, confirmed, and the owners as the law counts them.
    assert (
        f"[私聊·杨静] 🤖 Yishi #3: ✅ {GROUP} 名册已导入：新增 2 人，变更 7 人，移出 0 人。"
        in lines
    )
    assert "      · 周大哥 5-1-101（业主，1 套）" in lines
    assert "      · 王奶奶 2-1-201（业主，1 套）" in lines
    assert any(
        line.endswith(f"{GROUP} 名册：9 人，8 户；业主 7 人，已核实专有部分面积 594.20 ㎡")
        for line in lines
    )

    # The card: a PDF, whose QR code carries the code the demo says is printed on it,
    # and 周大哥 bound with it.
    (document,) = [line for line in lines if "📎 binding-cards-" in line]
    assert f"🖨 {GROUP}：1 张绑定卡" in document
    (note,) = [line for line in lines if "the card carries the code" in line]
    code = _code(note)
    (name, data) = pdfs[-1]
    (tmp_path / name).write_bytes(data)
    (card,) = read_cards(tmp_path / name)
    assert card.link.endswith(f"?start={code}")
    assert card.text.split("\n")[2:4] == ["5-1-101", "周大哥"]
    assert f"[私聊·周大哥] 周大哥: /start {code}" in lines
    assert any(
        line.endswith(f"✅ 绑定成功！您的账号已加入{GROUP}的名册：周大哥，5-1-101。"
                      "请在议事会的群里参加议事和表决。")
        for line in lines
    )  # fmt: skip

    # The meeting room: 王奶奶 marked present, her raised hand recorded.
    assert any(line.endswith('"已标记 王奶奶 到场。"') for line in lines)
    assert any(
        "✅ 已录入：王奶奶 选项1：建口袋花园" in line and "（现场举手）" in line for line in lines
    )
    (outcome,) = [n for n, line in enumerate(lines) if "📣 表决结果：" in line]
    assert lines[outcome + 1 : outcome + 10] == [
        "    ✅ 通过",
        "    采纳：选项1：建口袋花园：种花草树木，设座椅和凉亭，给老人孩子一个休憩的地方。",
        "    规则：居民会议",
        "    选项1：7 票",
        "    选项2：0 票",
        "    选项3：2 票",
        "    弃权：0",
        "    票源：本人在线 8，网页 0，现场举手 1，纸质票 0，入户代录 0",
        "    法定人数：",
    ]
    assert any(line.endswith("⏱ 陈师傅 的志愿服务时长：0.5 小时") for line in lines)
    failures = _failures(lines)
    context = "\n".join(
        "\n".join(lines[max(0, n - 12) : n + 1]) for n, line in enumerate(lines) if line in failures
    )
    assert [f[: len(UNREACHABLE)] for f in failures] == [UNREACHABLE], context


async def test_without_a_cjk_font_the_english_demo_shows_the_refusal_and_goes_on(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("YISHI_CARDS_FONT", raising=False)
    monkeypatch.setattr(binding_pdf, "FONT_PATHS", ())  # a machine without fonts-noto-cjk
    await play("en")
    lines = capsys.readouterr().out.splitlines()

    imported = f"✅ The roll of {GROUP} is imported: 2 added, 7 changed, 0 removed."
    assert f"[私聊·杨静] 🤖 Yishi #3: {imported}" in lines
    (refusal,) = [line for line in lines if "Chinese font" in line]
    assert "install fonts-noto-cjk (apt-get install fonts-noto-cjk)" in refusal
    assert not any("📎 binding-cards-" in line for line in lines)
    (note,) = [line for line in lines if "no font, no card" in line]
    code = _code(note)
    assert f"[私聊·周大哥] 周大哥: /start {code}" in lines
    assert any(line.endswith(f"✅ Bound! Your account is on the roll of {GROUP}: 周大哥, 5-1-101. "
                             "Take part in the council's group to deliberate and vote.")
               for line in lines)  # fmt: skip
    assert any(line.endswith('"王奶奶 marked present."') for line in lines)
    sources = "    Votes by source: chat 8, web page 0, raised hands 1, paper 0, home visits 0"
    assert sources in lines
    assert [f[: len(UNREACHABLE)] for f in _failures(lines)] == [UNREACHABLE]
    assert lines[-2:] == [
        "——— end of demo ———",
        "Try it with a real Telegram bot: set YISHI_TELEGRAM_TOKEN and run `yishi run`.",
    ]
