"""Texts are HTML: what a member typed is escaped once, what the bot rendered never.
Texts that count something have plural forms, picked by ``count``."""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path

import pytest
from markupsafe import Markup

from bot import i18n
from bot.i18n import EN_US, ZH_CN, refusal_text, t
from bot.telegram.render import mention, plain
from bot.telegram.render_dispatch import hours_params
from domain import errors


def test_a_value_a_member_typed_is_escaped() -> None:
    text = t(ZH_CN, "join.done", name="<b>张</b> & 李", household="3-2-301", council="小院")
    assert "&lt;b&gt;张&lt;/b&gt; &amp; 李" in text
    assert plain(text).startswith("✅ <b>张</b> & 李")


def test_rendered_text_stays_rendered_however_it_is_put_together() -> None:
    name = mention(42, 'Tom "T" <Lee>')
    assert name == '<a href="tg://user?id=42">Tom &quot;T&quot; &lt;Lee&gt;</a>'
    text = t(EN_US, "join.done", name=name, household="3-2-301", council="A & B")
    assert '<a href="tg://user?id=42">' in text and "A &amp; B" in text
    # Adding a plain string escapes the string and keeps the markup (it used to be the
    # other way round: the sum was a plain str and lost its "already HTML" mark).
    joined = text + "\n<i>typed</i>"
    assert isinstance(joined, Markup)
    assert joined.endswith("\n&lt;i&gt;typed&lt;/i&gt;") and '<a href="tg://' in joined
    assert t(EN_US, "join.done", name=joined, household="", council="").count("&amp;lt;") == 0


# --- plural forms ---------------------------------------------------------------------


def test_english_counts_read_singular_for_one_and_chinese_is_unchanged() -> None:
    assert [plain(t(EN_US, "topic.proposals", count=n)) for n in (0, 1, 2)] == [
        "0 proposals",
        "1 proposal",
        "2 proposals",
    ]
    assert [plain(t(ZH_CN, "topic.proposals", count=n)) for n in (1, 2)] == [
        "提案 1 条",
        "提案 2 条",
    ]
    opened = t(EN_US, "ballot.auto_opened", title="Bench", count=1)
    assert "(1 proposal);" in opened
    assert "(2 proposals);" in t(EN_US, "ballot.auto_opened", title="Bench", count=2)
    assert t(ZH_CN, "ballot.auto_opened", title="长椅", count=1) == (
        "⏳ 议题「长椅」征集意见已截止（共 1 条提案），现自动发起表决。"
    )


def test_a_text_with_two_counts_takes_each_as_a_plural_of_its_own() -> None:
    def roll(lang: str, members: int, households: int, owners: int) -> str:
        return t(
            lang,
            "roll.title",
            council="Elm Court",
            members=t(lang, "roll.members", count=members),
            households=t(lang, "roll.households", count=households),
            owners=t(lang, "roll.owners", count=owners),
            area=85,
        )

    assert "Elm Court</b>: 1 member, 1 household; 1 owner, 85 m²" in roll(EN_US, 1, 1, 1)
    assert "Elm Court</b>: 3 members, 2 households; 2 owners, 85 m²" in roll(EN_US, 3, 2, 2)
    assert roll(ZH_CN, 3, 2, 2) == (
        "📋 <b>Elm Court</b> 名册：3 人，2 户；业主 2 人，已核实专有部分面积 85 ㎡"
    )


def test_service_hours_pick_the_form_of_the_number_shown() -> None:
    def finished(hours: str) -> str:
        return t(EN_US, "task.finished", **hours_params(Decimal(hours)))

    assert finished("1.00") == "✅ Recorded as done: 1 service hour. Thank you!"
    assert finished("0.96") == "✅ Recorded as done: 1 service hour. Thank you!"  # shown as 1
    assert finished("0.5") == "✅ Recorded as done: 0.5 service hours. Thank you!"
    assert finished("10") == "✅ Recorded as done: 10 service hours. Thank you!"  # not 1E+1
    assert t(ZH_CN, "task.finished", **hours_params(Decimal(1))) == (
        "✅ 已记录完成，志愿服务时长 1 小时。谢谢您！"
    )


def test_a_refusal_counts_its_limit() -> None:
    def too_many(limit: int) -> str:
        return refusal_text(EN_US, errors.TooMany(field="proposals", limit=limit, minutes=60))

    assert "You have made 1 proposal within an hour" in too_many(1)
    assert "You have made 5 proposals within an hour" in too_many(5)
    assert "(there is 1)" in refusal_text(EN_US, errors.TooFewOptions(count=1))
    assert "(there are 0)" in refusal_text(EN_US, errors.TooFewOptions(count=0))


def test_a_plural_text_without_a_count_is_a_bug() -> None:
    with pytest.raises(TypeError, match="count"):
        t(EN_US, "topic.proposals")
    with pytest.raises(TypeError, match="count"):
        t(EN_US, "topic.proposals", count="3")
    assert t(EN_US, "topic.more", count="3") == "… and 3 more"  # not plural: any value


FRENCH = r"""
msgid ""
msgstr ""
"Language: fr\n"
"Plural-Forms: nplurals=2; plural=(n > 1);\n"
"Content-Type: text/plain; charset=UTF-8\n"

msgid "topic.proposals"
msgid_plural "topic.proposals"
msgstr[0] "<b>{count} proposition</b>"
msgstr[1] "<b>{count} propositions</b>"

#, fuzzy
msgid "button.second"
msgstr "👍 Appuyer ({count})"

msgid "cmd.help"
msgstr ""
"""


def test_a_translator_adds_a_language_with_a_po_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for locale in ("zh_CN", "en"):
        (tmp_path / locale / "LC_MESSAGES").mkdir(parents=True)
        shutil.copy(
            i18n.LOCALES / locale / "LC_MESSAGES" / "messages.po",
            tmp_path / locale / "LC_MESSAGES" / "messages.po",
        )
    (tmp_path / "fr" / "LC_MESSAGES").mkdir(parents=True)
    (tmp_path / "fr" / "LC_MESSAGES" / "messages.po").write_text(FRENCH, encoding="utf-8")
    monkeypatch.setattr(i18n, "LOCALES", tmp_path)
    i18n._catalogues.cache_clear()
    try:
        assert i18n.languages() == (ZH_CN, EN_US, "fr")
        assert i18n.language_of("fr-CA") == "fr" and i18n.language_of("en-GB") == EN_US
        # French says "1 proposition", "0 proposition" (plural=(n > 1)), "2 propositions".
        assert [plain(t("fr", "topic.proposals", count=n)) for n in (0, 1, 2)] == [
            "0 proposition",
            "1 proposition",
            "2 propositions",
        ]
        # A fuzzy or empty entry, or one not there, is the zh-CN text.
        assert t("fr", "button.second", count=2) == t(ZH_CN, "button.second", count=2)
        assert t("fr", "cmd.help") == t(ZH_CN, "cmd.help")
        assert t("fr", "cmd.start") == t(ZH_CN, "cmd.start")
        assert t("fr", "no.such.key") == "no.such.key"
    finally:
        monkeypatch.undo()
        i18n._catalogues.cache_clear()
