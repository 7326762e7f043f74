"""The console's topics and ballots, volunteering and downloads, over real HTTP to the
web beside the real bot on the emulator (SQLite, then PostgreSQL): the live tally after
a vote in the chat, the outcome and its chart once closed, the minutes as DOCX, a
secret ballot that names no voter's choice anywhere, another council's ballot not
found, a resident's session refused; and a chair in a real browser downloading the
minutes."""

from __future__ import annotations

import io
import re
import zipfile
from urllib.parse import quote

import httpx
from docx import Document
from openpyxl import load_workbook

from bot.telegram.local import LocalBot
from domain.services import web_access
from tests.bot.conftest import Council, button, make_council, press
from tests.bot.test_dispatch_e2e import accepted_request, ask
from tests.web.conftest import desk_page, same_origin
from tests.web.test_sign_in import console_link, form_token

CHOICES = ("赞成", "反对", "弃权")
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


async def sign_in(local: LocalBot, http: httpx.AsyncClient, council: Council) -> None:
    """The chair asks the bot for a link with /console and signs in with it."""
    path = (await console_link(local, council.chair)).removeprefix(local.web_url or "")
    token = form_token((await http.get(path)).text)
    signed = await http.post(path, data={"form_token": token}, headers=same_origin(local))
    assert signed.status_code == 303, signed.text


def docx_text(data: bytes) -> str:
    document = Document(io.BytesIO(data))
    lines = [p.text for p in document.paragraphs]
    lines += [cell.text for table in document.tables for row in table.rows for cell in row.cells]
    return "\n".join(lines)


def rows_of(data: bytes) -> list[list[str]]:
    book = load_workbook(io.BytesIO(data))
    return [
        ["" if cell is None else str(cell) for cell in row]
        for sheet in book.worksheets
        for row in sheet.iter_rows(values_only=True)
    ]


def table_rows(html: str) -> list[str]:
    """Each <tr> of a page, its text without tags."""
    return [re.sub(r"<[^>]+>", " ", row) for row in re.findall(r"<tr>.*?</tr>", html, re.S)]


def filename_star(response: httpx.Response) -> str:
    disposition = response.headers["content-disposition"]
    assert disposition.startswith("attachment;"), disposition
    found = re.search(r"filename\*=UTF-8''(\S+)", disposition)
    assert found, disposition
    return found.group(1)


async def test_the_ballot_page_follows_the_chat_and_closes_with_outcome_chart_and_minutes(
    web_local: LocalBot, http: httpx.AsyncClient
) -> None:
    council = await make_council(web_local)
    emu, chair = council.emu, council.chair
    aunt, uncle, sister, master = council.members
    await council.topic("在东侧空地建口袋花园")
    await council.say(aunt, "/propose 建口袋花园：种花草树木，设座椅和凉亭。")
    ballot, ballot_id = await council.ballot()
    await sign_in(web_local, http, council)

    board = await http.get("/console/ballots")
    assert board.status_code == 200
    assert "在东侧空地建口袋花园" in board.text and "建口袋花园：种花草树木" in board.text
    assert "提出人：张阿姨" in board.text and f'href="/console/ballots/{ballot_id}"' in board.text

    page = await http.get(f"/console/ballots/{ballot_id}")
    assert page.status_code == 200 and "参与表决：0 / 5 人" in page.text

    # Votes in the chat: the page shows them at once, with the chat's names per choice.
    await press(emu, aunt, ballot, button(ballot, "赞成"))
    await press(emu, uncle, ballot, button(ballot, "反对"))
    await press(emu, uncle, ballot, button(ballot, "赞成"))  # a change
    await press(emu, sister, ballot, button(ballot, "赞成"))
    await press(emu, master, ballot, button(ballot, "弃权"))
    page = await http.get(f"/console/ballots/{ballot_id}")
    assert "表决进行中" in page.text and "参与表决：4 / 5 人（80.0%）" in page.text
    counts = dict(
        re.findall(r"<td>(赞成|反对|弃权)</td><td class=\"number\">(\d+)</td>", page.text)
    )
    assert counts == {"赞成": "3", "反对": "0", "弃权": "1"}
    assert re.search(r"赞成：[^<]*张阿姨", page.text) and "chart.svg" not in page.text
    assert (await http.get(f"/console/ballots/{ballot_id}/chart.svg")).status_code == 404

    # The audit trail of an open (named) ballot: the change with its choices.
    audit = await http.get(f"/console/ballots/{ballot_id}/audit")
    assert audit.status_code == 200
    changed = [row for row in table_rows(audit.text) if "李叔叔" in row and "改票" in row]
    assert len(changed) == 1 and "赞成" in changed[0] and "反对" in changed[0]

    # Closed: the outcome with its figures and the result chart.
    await council.say(chair, "/close")
    page = await http.get(f"/console/ballots/{ballot_id}")
    assert "表决结果：通过" in page.text and "已结束" in page.text
    assert "✔ 赞成的人数超过赞成与反对之和（弃权不计）的 1/2：3 / 3" in page.text
    assert "表决方式：本人在线 4 票" in page.text
    assert f'src="/console/ballots/{ballot_id}/chart.svg"' in page.text
    chart = await http.get(f"/console/ballots/{ballot_id}/chart.svg")
    assert chart.status_code == 200 and chart.headers["content-type"] == "image/svg+xml"
    assert chart.content.lstrip().startswith(b"<?xml") and b"<svg" in chart.content
    assert "<title>在东侧空地建口袋花园</title>" in chart.text
    board = await http.get("/console/ballots")
    assert "表决结果：通过" in board.text and "chart.svg" in board.text

    # The minutes as DOCX, named in Chinese, holding the outcome.
    minutes = await http.get(f"/console/ballots/{ballot_id}/minutes.docx")
    assert minutes.status_code == 200 and minutes.headers["content-type"] == DOCX
    assert filename_star(minutes) == quote(f"表决纪要 #{ballot_id} 在东侧空地建口袋花园.docx")
    text = docx_text(minutes.content)
    assert "表决结果：通过" in text and "杨家园社区小院议事会 会议纪要" in text
    assert "赞成 3 人，反对 0 人，弃权 1 人" in text

    votes = await http.get(f"/console/ballots/{ballot_id}/votes.xlsx")
    assert votes.status_code == 200 and votes.headers["content-type"] == XLSX
    assert any("张阿姨" in row and "赞成" in row for row in rows_of(votes.content))

    downloads = await http.get("/console/downloads")
    assert downloads.status_code == 200
    assert f"/console/ballots/{ballot_id}/minutes.docx" in downloads.text


async def test_a_secret_ballot_names_no_voters_choice_on_any_page_file_or_chart(
    web_local: LocalBot, http: httpx.AsyncClient
) -> None:
    council = await make_council(web_local)
    emu = council.emu
    aunt, uncle, sister, master = council.members
    await council.topic("更换小区大门门禁")
    ballot, ballot_id = await council.ballot("secret")
    chosen = [(aunt, "赞成"), (uncle, "反对"), (sister, "赞成"), (master, "弃权")]
    for user, choice in chosen:
        await press(emu, user, ballot, button(ballot, choice))
    await press(emu, uncle, ballot, button(ballot, "弃权"))  # a change, secretly
    await sign_in(web_local, http, council)
    names = [user.full_name for user, _ in chosen]

    def no_choice_beside_a_name(text: str, where: str) -> None:
        for name in names:
            for found in re.finditer(re.escape(name), text):
                near = text[max(found.start() - 80, 0) : found.end() + 80]
                assert not any(c in near for c in CHOICES), (where, name, near)

    live = await http.get(f"/console/ballots/{ballot_id}")
    assert live.status_code == 200 and "无记名投票" in live.text
    assert "参与表决：4 / 5 人" in live.text
    assert not any(name in live.text for name in names)  # who voted is not even listed

    audit = await http.get(f"/console/ballots/{ballot_id}/audit")
    assert audit.status_code == 200 and "不显示任何人的选择" in audit.text
    rows = [row for row in table_rows(audit.text) if any(n in row for n in names)]
    assert len(rows) == 5  # four votes and one change, each with who and when
    for row in rows:
        assert not any(c in row for c in CHOICES), row
    assert "原选择" not in audit.text and "report.col.choice" not in audit.text
    # Lines stay in the order they were written, not grouped by choice.
    order = [next(n for n in names if n in row) for row in rows]
    assert order == ["张阿姨", "李叔叔", "刘大姐", "陈师傅", "李叔叔"]
    no_choice_beside_a_name(audit.text, "audit")

    await council.say(council.chair, "/close")
    for path in (f"/console/ballots/{ballot_id}", "/console/ballots"):
        page = await http.get(path)
        assert "表决结果" in page.text
        assert not any(name in page.text for name in names), path
    chart = await http.get(f"/console/ballots/{ballot_id}/chart.svg")
    assert chart.status_code == 200
    assert not any(name.encode() in chart.content for name in names)

    votes = await http.get(f"/console/ballots/{ballot_id}/votes.xlsx")
    assert votes.status_code == 200
    listed = [cells for cells in rows_of(votes.content) if any(n in cells for n in names)]
    assert {n for cells in listed for n in names if n in cells} == set(names)  # who took part
    for cells in listed:
        assert not any(c in cell for cell in cells for c in CHOICES), cells
    raw = b"".join(
        zipfile.ZipFile(io.BytesIO(votes.content)).read(member)
        for member in zipfile.ZipFile(io.BytesIO(votes.content)).namelist()
    ).decode("utf-8", "replace")
    no_choice_beside_a_name(raw, "votes.xlsx")

    minutes = await http.get(f"/console/ballots/{ballot_id}/minutes.docx")
    text = docx_text(minutes.content)
    assert "无记名投票" in text
    no_choice_beside_a_name(text, "minutes")


async def test_another_councils_ballot_is_not_found_and_a_resident_is_refused(
    web_local: LocalBot, http: httpx.AsyncClient
) -> None:
    ours = await make_council(web_local)
    await ours.topic("楼道堆物清理")
    _, our_ballot = await ours.ballot()
    theirs = await make_council(web_local)
    await theirs.topic("隔壁小区的议题")
    _, their_ballot = await theirs.ballot()
    assert their_ballot != our_ballot
    await sign_in(web_local, http, ours)

    assert (await http.get(f"/console/ballots/{our_ballot}")).status_code == 200
    for tail in ("", "/audit", "/chart.svg", "/minutes.docx", "/votes.xlsx"):
        refused = await http.get(f"/console/ballots/{their_ballot}{tail}")
        assert refused.status_code == 404, (tail, refused.status_code)
        assert "隔壁小区的议题" not in refused.text
    assert "隔壁小区的议题" not in (await http.get("/console/ballots")).text
    assert "隔壁小区的议题" not in (await http.get("/console/downloads")).text
    assert (await http.get("/console/meetings/999/minutes.docx")).status_code == 404
    assert (await http.get("/console/meetings/999.ics")).status_code == 404

    # A household's session (a login key) is no staff session.
    deps = web_local.deps
    async with deps.database.uow() as uow:
        member = await uow.members.by_user(1, ours.members[0].id)
    assert member is not None and member.id is not None
    issued = await web_access.issue_login_keys(
        deps.database.uow(),
        council_id=1,
        member_ids=[member.id],
        user_id=ours.chair.id,
        now=deps.clock(),
        key=deps.signer.key_for("web"),
    )
    async with httpx.AsyncClient(base_url=web_local.web_url or "") as resident:
        path = f"/k/{issued[0].token}"
        token = form_token((await resident.get(path)).text)
        signed = await resident.post(
            path, data={"form_token": token}, headers=same_origin(web_local)
        )
        assert signed.status_code == 303 and (await resident.get("/r")).status_code == 200
        for path in (
            "/console/ballots",
            f"/console/ballots/{our_ballot}",
            f"/console/ballots/{our_ballot}/audit",
            f"/console/ballots/{our_ballot}/minutes.docx",
            f"/console/ballots/{our_ballot}/votes.xlsx",
            "/console/tasks",
            "/console/downloads",
            "/console/hours.xlsx",
        ):
            assert (await resident.get(path)).status_code == 401, path


async def test_volunteering_and_the_meetings_files(
    web_local: LocalBot, http: httpx.AsyncClient
) -> None:
    from datetime import UTC, datetime, timedelta
    from zoneinfo import ZoneInfo

    council = await make_council(web_local)
    await council.topic("活动室使用规则")
    day = datetime.now(UTC).astimezone(ZoneInfo("Asia/Shanghai")) + timedelta(days=3)
    card = await council.say(
        council.chair, f"/meeting {day.year}-{day.month:02d}-{day.day:02d} 19:30 社区活动室"
    )
    meeting_id = int((card.text or "").split("#", 1)[1].split("（", 1)[0])
    # 张阿姨 asks for a repair, 李叔叔 takes it and reports it done in 1.5 hours.
    _aunt, uncle = await accepted_request(council)
    done = await ask(council, uncle, "/finish 1 1.5h 换了阀门")
    assert (done.text or "").startswith("✅")
    await sign_in(web_local, http, council)

    tasks = await http.get("/console/tasks")
    assert tasks.status_code == 200
    assert "已完成的任务（1）" in tasks.text and "厨房水管爆了" in tasks.text
    people = [row for row in table_rows(tasks.text) if "李叔叔" in row and "1.50" in row]
    assert people, tasks.text  # hours per person (and the done task's line)
    category = [row for row in table_rows(tasks.text) if "维修" in row and "分钟" in row]
    assert category, "requests by category with how fast they were taken"
    assert "已接单 1，等待中 0，无人接单 0" in tasks.text
    for name in ("hours-people", "hours-teams", "hours-months", "requests", "waits"):
        assert f'src="/console/tasks/{name}.svg"' in tasks.text
        chart = await http.get(f"/console/tasks/{name}.svg")
        assert chart.status_code == 200 and chart.headers["content-type"] == "image/svg+xml"
        assert b"<svg" in chart.content and b"<path" in chart.content
    assert (await http.get("/console/tasks/nothing.svg")).status_code == 404

    hours = await http.get("/console/hours.xlsx")
    assert hours.status_code == 200 and hours.headers["content-type"] == XLSX
    assert filename_star(hours) == quote("杨家园社区小院议事会 志愿服务时长.xlsx")
    rows = rows_of(hours.content)
    assert any("杨家园社区小院议事会" in cell for row in rows for cell in row)
    assert any("李叔叔" in row and "1.5" in row for row in rows), rows

    downloads = await http.get("/console/downloads")
    assert f"/console/meetings/{meeting_id}/minutes.docx" in downloads.text
    for workbook in ("/console/hours.xlsx", "/console/roll.xlsx", "/console/turnout.xlsx"):
        assert f'href="{workbook}"' in downloads.text
        got = await http.get(workbook)
        assert got.status_code == 200 and got.headers["content-type"] == XLSX, workbook
    minutes = await http.get(f"/console/meetings/{meeting_id}/minutes.docx")
    assert minutes.status_code == 200 and minutes.headers["content-type"] == DOCX
    assert "社区活动室" in docx_text(minutes.content)
    ics = await http.get(f"/console/meetings/{meeting_id}.ics")
    assert ics.status_code == 200 and ics.headers["content-type"].startswith("text/calendar")
    assert b"BEGIN:VEVENT" in ics.content and f"meeting-{meeting_id}@".encode() in ics.content
    assert "LOCATION:社区活动室" in ics.text


# --- in a real browser ------------------------------------------------------------------


async def test_a_chair_downloads_the_minutes_in_a_browser(
    web_local: LocalBot, browser: object, pages: list[object]
) -> None:
    council = await make_council(web_local)
    emu = council.emu
    await council.topic("在东侧空地建口袋花园")
    ballot, ballot_id = await council.ballot()
    for user in council.members[:3]:
        await press(emu, user, ballot, button(ballot, "赞成"))
    await council.say(council.chair, "/close")
    link = await console_link(web_local, council.chair)

    page = await desk_page(browser, pages)
    await page.goto(link)
    await page.get_by_role("button").first.click()
    await page.wait_for_url("**/console")
    await page.goto(f"{web_local.web_url}/console/ballots/{ballot_id}")
    assert "表决结果：通过" in await page.inner_text("main")
    async with page.expect_download() as info:
        await page.get_by_role("link", name="表决纪要（Word）").click()
    download = await info.value
    assert download.suggested_filename == f"表决纪要 #{ballot_id} 在东侧空地建口袋花园.docx"
    saved = await download.path()
    with open(saved, "rb") as file:
        text = docx_text(file.read())
    assert "表决结果：通过" in text and "在东侧空地建口袋花园" in text
