"""The console's council pages over real HTTP to the web beside the real bot (SQLite,
then PostgreSQL): the council at a glance with every ballot's turnout, the roll, the
roll file imported (the chat's dry-run diff, confirmed) and exported, approvals and
roles, a household's login key reissued and revoked; a resident's session and a form
without its CSRF token are refused. And a chair doing it in a real browser."""

from __future__ import annotations

import asyncio
import contextlib
import io
import re
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import httpx
from openpyxl import load_workbook
from sqlalchemy import event

from bot.reports import charts
from bot.telegram.local import LocalBot
from domain.model import Flat, Member, MemberStatus
from domain.services import web_access
from storage.base import CHUNK
from tests.bot.conftest import RESIDENTS, button, make_council, press
from tests.web.conftest import SCREENSHOTS, desk_page, same_origin
from tests.web.test_sign_in import console_link, form_token

GROUP = "杨家园社区小院议事会"
ROLL = (
    "姓名,地址,面积（㎡）,身份,电话\n"
    "杨静,3-2-301,81,业主,138 0000 0001\n"
    "王五,5-1-101,90,业主,\n"
    "赵六,5-1-102,88.5,业主,\n"
)


@contextlib.asynccontextmanager
async def signed_in(local: LocalBot, user: object) -> AsyncIterator[httpx.AsyncClient]:
    """A browser (an HTTP client keeping cookies) signed in to the console by the
    link ``/console`` sends ``user``."""
    path = (await console_link(local, user)).removeprefix(local.web_url or "")
    async with httpx.AsyncClient(base_url=local.web_url or "", timeout=30) as client:
        token = form_token((await client.get(path)).text)
        signed = await client.post(path, data={"form_token": token}, headers=same_origin(local))
        assert signed.status_code == 303 and signed.headers["location"] == "/console"
        yield client


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', html)
    assert found, html
    return found.group(1)


def form_fields(html: str, action: str) -> dict[str, str]:
    """The hidden fields of the form posting to ``action`` (CSRF token and nonce)."""
    start = html.index(f'action="{action}"')
    form = html[start : html.index("</form>", start)]
    return dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', form))


def text_of(html: str) -> str:
    """What a page says, tags gone, whitespace squeezed."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace("&amp;", "&")


async def member_id(local: LocalBot, name: str) -> int:
    async with local.database.uow() as uow:
        found = [m for m in await uow.members.list(1, tuple(MemberStatus)) if m.name == name]
    assert len(found) == 1 and found[0].id is not None
    return found[0].id


async def post(
    client: httpx.AsyncClient, local: LocalBot, page: str, to: str, **data: str
) -> httpx.Response:
    """Post the form of ``page`` that goes to ``to``, as a browser would."""
    fields = form_fields((await client.get(page)).text, to)
    return await client.post(to, data={**fields, **data}, headers=same_origin(local))


async def test_the_council_at_a_glance_and_the_roll(web_local: LocalBot) -> None:
    council = await make_council(web_local)
    async with signed_in(web_local, council.chair) as client:
        assert "还没有表决。" in text_of((await client.get("/console")).text)
        # A ballot, so the turnout has a point: two of the five vote.
        await council.topic("在东侧空地建口袋花园")
        ballot, ballot_id = await council.ballot()
        aunt, uncle = council.members[:2]
        await press(web_local.emulator, aunt, ballot, button(ballot, "赞成"))
        await press(web_local.emulator, uncle, ballot, button(ballot, "反对"))
        await web_local.emulator.wait_idle(quiet=0.2)

        home = await client.get("/console")
        assert home.status_code == 200
        said = text_of(home.text)
        for figure in ("5 名册人数", "5 户数", "0.00 已核实面积（㎡）", "0 待审核入册",
                       "5 待核实面积", "1 进行中的议题", "1 进行中的表决"):  # fmt: skip
            assert figure in said, (figure, said)
        assert f"{ballot_id} 在东侧空地建口袋花园" in said and "2 / 5 40%" in said
        assert 'src="/console/turnout.svg"' in home.text
        for section in (
            "/console/roll",
            "/console/ballots",
            "/console/tasks",
            "/console/downloads",
        ):
            assert f'href="{section}"' in home.text

        roll = await client.get("/console/roll")
        assert roll.status_code == 200
        said = text_of(roll.text)
        for n, name in enumerate(["杨静", "张阿姨", "李叔叔", "刘大姐", "陈师傅"], 1):
            assert name in said and f"3-2-{300 + n}" in said
        assert f"📋 {GROUP} 名册：5 人，5 户" in said
        assert "召集人" in said and "表决成员" in said and "已绑定" in said
        assert "3-2-302 · 82.00 ㎡ 未核实" in said  # declared at /join, not verified yet
        only = await client.get("/console/roll", params={"q": "张"})
        assert "张阿姨" in only.text and "李叔叔" not in only.text

        exported = await client.get("/console/roll.xlsx")
        assert exported.status_code == 200
        sheet = load_workbook(io.BytesIO(exported.content)).active
        assert sheet is not None
        names = {row[0] for row in sheet.iter_rows(min_row=2, values_only=True)}
        assert {"杨静", "张阿姨", "李叔叔", "刘大姐", "陈师傅"} <= names

        # Flats waiting: verified from the console, in the chat's words.
        pending = await client.get("/console/roll/pending")
        assert "5 位成员的面积待核实" in text_of(pending.text)
        aunt_id = await member_id(web_local, "张阿姨")
        verified = await post(
            client, web_local, "/console/roll/pending", f"/console/roll/{aunt_id}/verify"
        )
        assert verified.status_code == 200, verified.text
        assert "已核实 张阿姨 的房屋面积" in text_of(verified.text)
        assert "3-2-302 · 82.00 ㎡ 已核实" in text_of((await client.get("/console/roll")).text)
        glance = text_of((await client.get("/console")).text)
        assert re.search(r"82\.00 已核实面积", glance), glance

        # In English too: the visitor's language, kept in a cookie.
        await client.get("/lang/en", params={"next": "/console/roll"})
        english = text_of((await client.get("/console/roll")).text)
        assert f"📋 Roll of {GROUP} : 5 members" in english, english
        assert "Chair" in english and "Voter" in english and "Export the roll (XLSX)" in english
        assert "Turnout of every ballot" in text_of((await client.get("/console")).text)
        await client.get("/lang/zh-CN", params={"next": "/console"})

        chart = await client.get("/console/turnout.svg")
        assert chart.status_code == 200 and chart.headers["content-type"].startswith(
            "image/svg+xml"
        )
        assert b"<svg" in chart.content
        book = await client.get("/console/turnout.xlsx")
        assert book.status_code == 200 and book.content[:2] == b"PK"


async def test_a_residents_session_is_refused_on_every_console_page(
    web_local: LocalBot, http: httpx.AsyncClient
) -> None:
    council = await make_council(web_local)
    deps = web_local.deps
    aunt = await member_id(web_local, "张阿姨")
    issued = await web_access.issue_login_keys(
        deps.database.uow(),
        council_id=1,
        member_ids=[aunt],
        user_id=council.chair.id,
        now=deps.clock(),
        key=deps.signer.key_for("web"),
    )
    path = f"/k/{issued[0].token}"
    token = form_token((await http.get(path)).text)
    signed = await http.post(path, data={"form_token": token}, headers=same_origin(web_local))
    assert signed.status_code == 303 and (await http.get("/r")).status_code == 200
    for page in (
        "/console",
        "/console/roll",
        "/console/roll.xlsx",
        f"/console/roll/{aunt}",
        "/console/roll/pending",
        "/console/roll/roles",
        "/console/turnout.svg",
        "/console/turnout.xlsx",
    ):
        shown = await http.get(page)
        assert shown.status_code == 401, page
        assert "张阿姨" not in shown.text and "3-2-302" not in shown.text
    for action in (
        "/console/roll/roles",
        "/console/roll/import",
        f"/console/roll/{aunt}/key",
        f"/console/roll/{aunt}/verify",
        f"/console/roll/pending/{aunt}",
    ):
        refused = await http.post(action, data={"who": "#1"}, headers=same_origin(web_local))
        assert refused.status_code == 401, action


async def test_a_roll_file_is_checked_confirmed_and_the_roll_shows_it(
    web_local: LocalBot,
) -> None:
    council = await make_council(web_local)
    async with signed_in(web_local, council.chair) as client:
        page = (await client.get("/console/roll")).text
        fields = form_fields(page, "/console/roll/import")
        assert set(fields) == {"csrf", "nonce"}
        diff = await client.post(
            "/console/roll/import",
            data=fields,
            files={"file": ("名册.csv", ROLL.encode("gb18030"), "text/csv")},
            headers=same_origin(web_local),
        )
        assert diff.status_code == 200, diff.text
        said = text_of(diff.text)
        for words in (
            "📋 名册核对",
            f"：名册.csv {GROUP}，文件共 3 行。",
            "➕ 新增 2 人",
            "· 王五 5-1-101（业主，1 套）",
            "· 赵六 5-1-102（业主，1 套）",
            "✏️ 变更 1 人",
            "· 杨静 3-2-301：面积核实、电话",
            "➖ 移出名册 4 人",
            "· 李叔叔 3-2-303",
            "确认之前名册不会改动。",
            "✅ 确认导入",
            "✖ 取消",
        ):
            assert words in said, (words, said)
        assert "王五" not in (await client.get("/console/roll")).text  # a dry run

        found = re.search(r'action="(/console/roll/import/\d+)"', diff.text)
        assert found
        confirm = form_fields(diff.text, found.group(1))
        done = await client.post(
            found.group(1), data={**confirm, "decision": "apply"}, headers=same_origin(web_local)
        )
        assert done.status_code == 200
        assert f"✅ {GROUP} 名册已导入：新增 2 人，变更 1 人，移出 4 人。" in text_of(done.text)
        again = await client.post(
            found.group(1), data={**confirm, "decision": "apply"}, headers=same_origin(web_local)
        )
        assert "之前已导入" in text_of(again.text)  # a double click writes once

        roll = text_of((await client.get("/console/roll")).text)
        assert "王五" in roll and "5-1-101 · 90.00 ㎡ 已核实" in roll
        assert "赵六" in roll and "5-1-102 · 88.50 ㎡ 已核实" in roll
        assert "张阿姨" not in roll and f"📋 {GROUP} 名册：3 人，3 户" in roll
        assert "未绑定" in roll  # 王五 and 赵六: roster rows nobody has bound yet


async def test_a_chair_grants_staff_with_the_chats_refusals(web_local: LocalBot) -> None:
    council = await make_council(web_local)
    uncle = await member_id(web_local, "李叔叔")
    async with signed_in(web_local, council.chair) as client:
        granted = await post(
            client, web_local, "/console/roll/roles", "/console/roll/roles",
            who=f"#{uncle}", role="staff", action="grant",
        )  # fmt: skip
        assert granted.status_code == 200
        assert f"✅ 李叔叔 已成为「{GROUP}」的社工（网格员）" in text_of(granted.text)
        roles = text_of((await client.get("/console/roll/roles")).text)
        assert "社工（网格员）：李叔叔" in roles
        again = await post(
            client, web_local, "/console/roll/roles", "/console/roll/roles",
            who="3-2-303", role="staff", action="grant",
        )  # fmt: skip
        assert again.status_code == 400 and "✖" in again.text and "李叔叔" in again.text
        last = await post(
            client, web_local, "/console/roll/roles", "/console/roll/roles",
            who="3-2-301", role="chair", action="revoke",
        )  # fmt: skip
        assert last.status_code == 400 and "✖" in last.text  # the last chair stays
    # The new staff member signs in too, but may not name staff (a chair's to do).
    async with signed_in(web_local, council.members[1]) as staff:
        assert "张阿姨" in (await staff.get("/console/roll")).text
        refused = await post(
            staff, web_local, "/console/roll/roles", "/console/roll/roles",
            who="3-2-302", role="staff", action="grant",
        )  # fmt: skip
        assert refused.status_code == 400 and "✖" in refused.text
        made = await post(
            staff, web_local, "/console/roll/roles", "/console/roll/roles",
            who="3-2-302", role="participant", action="grant",
        )  # fmt: skip
        assert made.status_code == 200 and "列席成员" in text_of(made.text)


async def test_a_reissued_key_signs_in_and_the_old_one_is_refused(
    web_local: LocalBot,
) -> None:
    council = await make_council(web_local)
    deps = web_local.deps
    aunt = await member_id(web_local, "张阿姨")
    old = await web_access.issue_login_keys(
        deps.database.uow(),
        council_id=1,
        member_ids=[aunt],
        user_id=council.chair.id,
        now=deps.clock(),
        key=deps.signer.key_for("web"),
    )
    old_path = f"/k/{old[0].token}"
    resident = httpx.AsyncClient(base_url=web_local.web_url or "")

    async with signed_in(web_local, council.chair) as client, resident:
        token = form_token((await resident.get(old_path)).text)
        await resident.post(old_path, data={"form_token": token}, headers=same_origin(web_local))
        assert (await resident.get("/r")).status_code == 200
        entry = text_of((await client.get(f"/console/roll/{aunt}")).text)
        assert "这户的网页登录码在用。" in entry and "用登录码登录" in entry
        page = (await client.get(f"/console/roll/{aunt}")).text
        fields = form_fields(page, f"/console/roll/{aunt}/key")
        issued = await client.post(
            f"/console/roll/{aunt}/key", data=fields, headers=same_origin(web_local)
        )
        assert issued.status_code == 200
        assert "已为 张阿姨 补发网页登录码" in text_of(issued.text)
        assert 'src="data:image/svg+xml' in issued.text  # the QR code
        found = re.search(r"https?://[^\s<\"]+/k/[\w-]+", issued.text)
        assert found
        new_path = found.group(0).removeprefix(web_local.web_url or "")
        assert new_path != old_path
        # Posted again (a reload): no second key, and the key is not shown again.
        reloaded = await client.post(
            f"/console/roll/{aunt}/key", data=fields, headers=same_origin(web_local)
        )
        assert reloaded.status_code == 303 and "/k/" not in reloaded.text

        assert (await resident.get("/r")).status_code == 401  # the old key's browser
        refused = await resident.post(
            old_path, data={"form_token": token}, headers=same_origin(web_local)
        )
        assert refused.status_code == 403 and "已停用" in refused.text
        async with httpx.AsyncClient(base_url=web_local.web_url or "") as fresh:
            new_token = form_token((await fresh.get(new_path)).text)
            signed = await fresh.post(
                new_path, data={"form_token": new_token}, headers=same_origin(web_local)
            )
            assert signed.status_code == 303 and "张阿姨" in (await fresh.get("/r")).text

            revoked = await post(
                client, web_local, f"/console/roll/{aunt}", f"/console/roll/{aunt}/key/revoke"
            )
            assert "已停用这户的网页登录码" in text_of(revoked.text)
            assert (await fresh.get("/r")).status_code == 401
        trail = text_of((await client.get(f"/console/roll/{aunt}")).text)
        assert "这户还没有在用的网页登录码。" in trail
        for kind in ("发放登录码", "停用登录码", "用登录码登录", "登录码被拒绝"):
            assert kind in trail


async def test_a_post_without_the_csrf_token_is_forbidden(web_local: LocalBot) -> None:
    council = await make_council(web_local)
    uncle = await member_id(web_local, "李叔叔")
    async with signed_in(web_local, council.chair) as client:
        page = (await client.get("/console/roll/roles")).text
        fields = form_fields(page, "/console/roll/roles")
        wanted = {"who": f"#{uncle}", "role": "staff", "action": "grant"}
        without = {k: v for k, v in fields.items() if k != "csrf"}
        for data, headers in (
            ({**without, **wanted}, same_origin(web_local)),
            ({**fields, "csrf": "0" * 32, **wanted}, same_origin(web_local)),
            ({**fields, **wanted}, {"origin": "https://evil.example"}),
        ):
            refused = await client.post("/console/roll/roles", data=data, headers=headers)
            assert refused.status_code == 403
        for action in (f"/console/roll/{uncle}/key", "/console/roll/import"):
            refused = await client.post(action, data=without, headers=same_origin(web_local))
            assert refused.status_code == 403
        assert "社工（网格员）：无" in text_of((await client.get("/console/roll/roles")).text)


async def test_a_join_waiting_is_approved_and_the_roll_of_3000_is_paged(
    web_local: LocalBot,
) -> None:
    council = await make_council(web_local)
    chair, newcomer = council.chair, council.outsider
    assert (await council.say(chair, "/settings approval on")).text is not None
    joined = await council.say(newcomer, "/join 6-1-601 75")
    assert joined.text is not None and "审核" in joined.text, joined.text
    # 3,000 more households on the roll, written as a roll import writes them.
    async with web_local.database.uow() as uow:
        await uow.members.add_many(
            [
                Member(
                    1,
                    None,
                    f"住户{n}",
                    str(10 + n % 30),
                    "1",
                    str(100 + n),
                    joined_at=web_local.deps.clock(),
                    flats=(Flat(f"{10 + n % 30}-1-{100 + n}", Decimal(90), True),),
                )
                for n in range(3000)
            ]
        )
        await uow.commit()
    statements: list[str] = []

    def counted(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    engine = web_local.database.engine.sync_engine
    async with signed_in(web_local, chair) as client:
        event.listen(engine, "before_cursor_execute", counted)
        try:
            last = await client.get("/console/roll", params={"page": "31"})
        finally:
            event.remove(engine, "before_cursor_execute", counted)
        assert last.status_code == 200
        # The signed-in chair's entry, the active roll and the joins waiting, each with
        # its flats and accounts in a statement a chunk of 500: none a member.
        flats = [x for x in statements if "FROM member_flats" in x]
        assert 1 <= len(flats) <= -(-3006 // CHUNK) + 2, len(flats)
        assert sum("FROM members" in x for x in statements) <= 3
        said = text_of(last.text)
        assert "共 3005 人" in said and "<strong>31</strong>" in last.text
        assert said.count("已核实") >= 5
        first = await client.get("/console/roll", params={"building": "12"})
        rows = re.findall(r'<tr>\s*<td><a href="/console/roll/\d+">', first.text)
        assert len(rows) == 100  # a page
        assert "共 100 人" in text_of(first.text)  # 3,000 households in 30 buildings
        assert "住户2 " in text_of(first.text) and "住户3 " not in text_of(first.text)

        pending = await client.get("/console/roll/pending")
        assert "1 份入册申请待审核" in text_of(pending.text)
        assert "路人甲" in pending.text and "6-1-601" in pending.text
        newcomer_id = await member_id(web_local, "路人甲")
        approved = await post(
            client, web_local, "/console/roll/pending", f"/console/roll/pending/{newcomer_id}",
            decision="approve",
        )  # fmt: skip
        assert "✅ 路人甲 的入册申请已获批准" in text_of(approved.text)
        page = (await client.get("/console/roll/pending")).text
        assert f"/console/roll/pending/{newcomer_id}" not in page  # decided: no buttons
        again = await client.post(
            f"/console/roll/pending/{newcomer_id}",
            data={"csrf": csrf_of(page), "nonce": "another", "decision": "reject"},
            headers=same_origin(web_local),
        )
        assert again.status_code == 400 and "✖" in again.text  # in the chat's words
        assert "路人甲" in text_of((await client.get("/console/roll", params={"q": "路人"})).text)


# --- in a real browser ------------------------------------------------------------------


async def test_console_home_after_a_chair_imports_a_roll_file_in_a_browser(
    web_local: LocalBot, browser: object, pages: list[object], tmp_path: Path
) -> None:
    council = await make_council(web_local, residents=RESIDENTS)
    emu = council.emu
    # The first chart drawn loads matplotlib and the CJK font (seconds on a busy machine):
    # done before the first /close, whose outcome the bot posts as a chart.
    await asyncio.to_thread(charts.turnout_chart, "zh-CN", [("#1", 0.5)])
    # Three ballots behind, so the home page's turnout has a line: 3, 5 and 6 of 7 voted.
    for title, voters in (("东侧空地建口袋花园", 3), ("加装电梯", 5), ("楼道灯改声控", 6)):
        await council.topic(title)
        ballot, _ = await council.ballot()
        for user in council.members[:voters]:
            await press(emu, user, ballot, button(ballot, "赞成"))
        await council.say(council.chair, "/close")
    roll_file = tmp_path / "名册.csv"
    roll_file.write_bytes(ROLL.encode("gb18030"))
    link = await console_link(web_local, council.chair)

    page = await desk_page(browser, pages)
    await page.goto(link)
    await page.get_by_role("button").first.click()
    await page.wait_for_url("**/console")
    await page.get_by_role("link", name="名册", exact=True).first.click()
    await page.wait_for_url("**/console/roll")
    assert "孙老师" in await page.inner_text("main")
    async with page.expect_file_chooser() as chosen:
        await page.click("#file")
    chooser = await chosen.value
    await chooser.set_files(str(roll_file))
    await page.get_by_role("button", name="上传并核对").click()
    await page.wait_for_url("**/console/roll/import")
    diff = await page.inner_text("main")
    assert "➕ 新增 2 人" in diff and "王五 5-1-101" in diff and "确认之前名册不会改动。" in diff
    await page.get_by_role("button", name="✅ 确认导入").click()
    await page.wait_for_load_state()
    assert "名册已导入：新增 2 人，变更 1 人，移出 6 人。" in await page.inner_text("main")
    await page.goto(f"{web_local.web_url}/console/roll")
    shown = await page.inner_text("main")
    assert "王五" in shown and "赵六" in shown and "孙老师" not in shown

    await page.goto(f"{web_local.web_url}/console")
    await page.wait_for_load_state("networkidle")
    chart = page.locator("img.chart")
    assert await chart.evaluate("img => img.complete && img.naturalWidth > 0")
    said = await page.inner_text("main")
    assert "楼道灯改声控" in said and "86%" in said  # 6 of the 7 on the roll then
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / "console.png"), full_page=True)
