"""The charts (bot.reports.charts), drawn for real with matplotlib and Noto Sans CJK:
Chinese with no missing glyph (matplotlib's "Glyph … missing from font(s)" warning made
an error), PNGs of the promised size, SVGs that parse and say what they show, the same
bytes every time and from any thread, and nobody's name on a secret ballot's chart."""

from __future__ import annotations

import io
import re
import warnings
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from fractions import Fraction

import pytest
from PIL import Image

from bot.i18n import EN_US, ZH_CN
from bot.reports import charts
from domain.model import Ballot, BallotKind, BallotOption, Council, Topic, Voters
from domain.rules import Rule, Voter, decide, preset
from domain.services import BallotView

NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
SVG = "{http://www.w3.org/2000/svg}"
NAMES = ("张阿姨", "李叔叔", "刘大姐", "陈师傅", "王奶奶")
GREEN, RED = (0x2E, 0x7D, 0x32), (0xC6, 0x28, 0x28)


@pytest.fixture(autouse=True)
def glyphs_must_exist() -> Iterator[None]:
    """Any warning while drawing fails the test: a missing glyph (an empty box in the
    picture) is one."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


def view(
    rule: Rule,
    votes: Mapping[str, str],
    *,
    title: str = "拆除违建后空出的空地做什么？",
    options: tuple[BallotOption, ...] = (),
    secret: bool = False,
    voters: dict[str, Voters] | None = None,
    lang: str = ZH_CN,
) -> BallotView:
    """A closed ballot of ten households (80, 87, … m²), its outcome decided by the rules."""
    roll = [Voter(str(i), f"3-2-{301 + i}", Fraction(80 + 7 * i)) for i in range(10)]
    outcome = decide(rule, roll, votes, [o.key for o in options] or None)
    council = Council(1, 0, "杨家园社区小院议事会", rule, "Asia/Shanghai", lang, NOW, id=1)
    topic = Topic(1, title, "", 1, NOW, id=1)
    ballot = Ballot(
        1,
        1,
        BallotKind.OPTIONS if options else BallotKind.MOTION,
        title,
        rule,
        secret,
        1,
        NOW,
        options=options,
        closed_at=NOW,
        outcome=outcome,
        id=1,
    )
    return BallotView(ballot, topic, council, outcome, len(roll), voters or {}, seq=len(votes))


def png(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def colours(image: Image.Image) -> set[tuple[int, int, int]]:
    found = image.convert("RGB").getcolors(image.width * image.height) or []
    return {(c[0], c[1], c[2]) for _count, c in found if isinstance(c, tuple)}


def drawn(svg: bytes) -> list[str]:
    """Every text the SVG draws: matplotlib writes each, drawn as outlines, in a comment
    before its glyphs."""
    return [
        text.strip().replace("&gt;", ">").replace("&lt;", "<").replace("&amp;", "&")
        for text in re.findall(r"<!-- (.*?) -->", svg.decode("utf-8"), re.S)
    ]


def title_of(svg: bytes) -> str | None:
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    return root.findtext(f"{SVG}title")


SIMPLE = {"0": "for", "1": "for", "2": "against", "3": "abstain", "4": "for"}


def test_a_result_chart_is_a_png_of_800_by_500_with_its_bars() -> None:
    image = png(charts.result_chart(ZH_CN, view(preset("simple"), SIMPLE), "png"))
    assert (image.format, image.size) == ("PNG", (800, 500))
    assert {GREEN, RED} <= colours(image)  # the 赞成 and 反对 bars


def test_a_result_chart_in_svg_says_its_title_outcome_figures_and_passing_line() -> None:
    svg = charts.result_chart(ZH_CN, view(preset("simple"), SIMPLE), "svg")
    assert title_of(svg) == "拆除违建后空出的空地做什么？"
    texts = drawn(svg)
    for text in ("拆除违建后空出的空地做什么？", "通过", "票数", "赞成", "反对", "弃权"):
        assert text in texts, texts
    assert [t for t in texts if t.isdigit()] == ["3", "1", "1"]  # 赞成, 反对, 弃权
    assert "通过线 >1/2" in texts
    assert "<dc:date>" not in svg.decode()


def test_the_same_chart_is_the_same_file_from_any_thread() -> None:
    ballot = view(preset("owners-ordinary"), {str(i): "for" for i in range(7)})
    first = charts.result_chart(ZH_CN, ballot, "svg")
    with ThreadPoolExecutor(4) as pool:
        again = list(pool.map(lambda _: charts.result_chart(ZH_CN, ballot, "svg"), range(4)))
        pngs = list(pool.map(lambda _: charts.result_chart(ZH_CN, ballot, "png"), range(4)))
    assert again == [first] * 4
    assert len(set(pngs)) == 1


def test_an_owners_rule_shows_area_and_owners_with_quorum_and_passing_lines() -> None:
    votes = {str(i): ("for" if i < 5 else "against") for i in range(8)}
    ballot = view(preset("owners-ordinary"), votes, title="更换小区电梯维保公司")
    svg = charts.result_chart(ZH_CN, ballot, "svg")
    texts = drawn(svg)
    assert "专有部分面积 (㎡)" in texts and "业主人数" in texts
    assert "参与表决" in texts
    # Area: 赞成 80+87+…+108 = 470 ㎡ of 1,115; owners: 5 of 8 who took part, of 10.
    assert {"470", "366", "5", "3"} <= set(texts)
    assert "836 / 1115 (75%)" in texts and "8 / 10 (80%)" in texts
    assert texts.count("法定人数 ≥2/3") == 2 and texts.count("通过线 >1/2") == 2
    assert png(charts.result_chart(ZH_CN, ballot, "png")).size == (800, 500)


def test_no_quorum_is_said_and_the_turnout_drawn_against_the_roll() -> None:
    ballot = view(preset("residents-meeting"), {"0": "for", "1": "against"})
    texts = drawn(charts.result_chart(ZH_CN, ballot, "svg"))
    assert "未达法定人数，表决无效" in texts
    assert "2 / 10 (20%)" in texts and "法定人数 >1/2" in texts


def test_a_choice_among_options_names_the_adopted_one() -> None:
    options = (
        BallotOption("a", "改建为儿童游乐场，配备安全地垫"),
        BallotOption("b", "种植花草，建设社区花园"),
        BallotOption("c", "划为停车位"),
    )
    votes = {"0": "a", "1": "a", "2": "b", "3": "abstain", "4": "a", "5": "c"}
    texts = drawn(charts.result_chart(ZH_CN, view(preset("simple"), votes, options=options), "svg"))
    assert "通过 · 采纳：选项1：改建为儿童游乐场，配备安全地垫" in texts
    assert "选项1：改建为儿童游乐场，配备安全…" in texts  # cut to fit beside its bar
    assert "选项2：种植花草，建设社区花园" in texts and "选项3：划为停车位" in texts


def test_a_secret_ballot_chart_names_nobody() -> None:
    # Even were the names at hand (as an open ballot's view has them), the chart draws
    # totals only.
    leaked = {
        "for": Voters(NAMES[:3], 3),
        "against": Voters(NAMES[3:4], 1),
        "abstain": Voters(NAMES[4:], 1),
    }
    ballot = view(preset("simple"), SIMPLE, secret=True, voters=leaked, title="物业费调整")
    svg = charts.result_chart(ZH_CN, ballot, "svg")
    texts = drawn(svg)
    assert "物业费调整" in texts and "3" in texts
    assert not [text for text in texts if any(name in text for name in NAMES)], texts
    assert not any(name in svg.decode() for name in NAMES)


def test_english_charts_speak_english() -> None:
    ballot = view(
        preset("two-thirds"), {"0": "for", "1": "against", "2": "against"}, lang=EN_US, title="Room"
    )
    texts = drawn(charts.result_chart(EN_US, ballot, "svg"))
    assert {"Room", "Rejected", "Votes", "For", "Against", "Abstain", "to pass ≥2/3"} <= set(texts)


def test_turnout_over_time() -> None:
    points = [("10月例会", 0.45), ("11月例会", 0.62), ("加装电梯", 0.8333)]
    svg = charts.turnout_chart(ZH_CN, points)
    assert title_of(svg) == "参与率"
    texts = drawn(svg)
    assert {"10月例会", "11月例会", "加装电梯", "45%", "62%", "83%"} <= set(texts)
    image = png(charts.turnout_chart(ZH_CN, points, "png"))
    assert image.size == (800, 500)


def test_bars_of_hours_and_a_long_list_gets_a_taller_picture() -> None:
    items = [("王阿姨", 12.5), ("李师傅", 8.0), ("物业维修队", 20.0)]
    svg = charts.bar_chart(ZH_CN, "本月志愿服务时长", items, "小时")
    assert title_of(svg) == "本月志愿服务时长"
    texts = drawn(svg)
    assert {"王阿姨", "李师傅", "物业维修队", "12.5 小时", "8 小时", "20 小时"} <= set(texts)
    many = [(f"第{n}网格", float(n)) for n in range(1, 21)]
    image = png(charts.bar_chart(ZH_CN, "各网格求助数", many, "件", "png"))
    assert image.width == 800 and image.height > 500


def test_nothing_to_show_says_so() -> None:
    assert "暂无数据" in drawn(charts.turnout_chart(ZH_CN, []))
    assert "暂无数据" in drawn(charts.bar_chart(ZH_CN, "求助分类", [], "件"))


def test_a_glyph_the_fonts_lack_is_caught() -> None:
    # The check the other tests rely on: a character no installed font has (Linear B)
    # is reported, so a chart of empty boxes cannot pass unnoticed.
    with pytest.raises(UserWarning, match="missing from font"):
        charts.bar_chart(ZH_CN, "\U00010000", [("甲", 1.0)], "件", "png")


def test_without_a_cjk_font_the_error_names_the_debian_package(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(charts, "_ready", set())
    monkeypatch.setattr(charts, "FONT_PATHS", ("/nonexistent/NotoSansCJK-Regular.ttc",))
    with pytest.raises(charts.FontMissing, match="apt-get install fonts-noto-cjk"):
        charts.bar_chart(ZH_CN, "求助分类", [("水电", 3.0)], "件")
    with pytest.raises(charts.FontMissing, match="YISHI_CARDS_FONT"):
        charts.turnout_chart(ZH_CN, [], font="/nonexistent/font.ttc")


def test_a_configured_font_file_is_used() -> None:
    path = "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc"
    image = png(charts.bar_chart(ZH_CN, "求助分类", [("水电", 3.0)], "件", "png", font=path))
    assert image.size == (800, 500)


def test_a_long_title_is_cut_to_the_pictures_width() -> None:
    long = "关于小区东侧违建拆除后空出的空地改造为儿童游乐场和老年人休憩花园的方案征求意见"
    svg = charts.result_chart(ZH_CN, view(preset("simple"), SIMPLE, title=long), "svg")
    assert title_of(svg) == long  # the whole title for screen readers
    (cut,) = [text for text in drawn(svg) if text.startswith("关于小区")]
    assert cut.endswith("…") and long.startswith(cut[:-1]) and len(cut) <= 26
    english = "Whether the council should ask the property manager to open the room on weekends"
    svg = charts.result_chart(EN_US, view(preset("simple"), SIMPLE, title=english), "svg")
    (cut,) = [text for text in drawn(svg) if text.startswith("Whether")]
    assert cut.endswith("…") and 40 <= len(cut) <= 52
