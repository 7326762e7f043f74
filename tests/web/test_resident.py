"""The residents' page over real HTTP, beside the real bot on the emulator (SQLite, then
PostgreSQL): a household signed in by its login key reads the council's open topic and
ballot, proposes, seconds, votes and changes its vote, and the group's ballot message
shows the new tally; a retried vote counts once; another council's ballot is not found;
a form without its CSRF token is refused; a secret ballot's page names nobody. And on a
375 px phone in Chromium: sign in by the key's URL, press a choice, see it marked."""

from __future__ import annotations

import html
import re
from typing import Any

import httpx

from bot.telegram.local import LocalBot
from domain.model import Member
from domain.services import web_access
from tests.bot.conftest import (
    Council,
    button,
    current_votes,
    make_council,
    press,
    proposals_of,
    text_of,
    vote_events,
)
from tests.web.conftest import OUTPUT, SCREENSHOTS, phone_page, same_origin

# --- helpers ---------------------------------------------------------------------


async def roll_entry(local: LocalBot, council_id: int, user_id: int) -> Member:
    async with local.database.uow() as uow:
        member = await uow.members.by_user(council_id, user_id)
    assert member is not None and member.id is not None
    return member


async def key_path(local: LocalBot, council: Council, member: Member, council_id: int = 1) -> str:
    """A household's login key, as the chair prints it on the household's card."""
    assert member.id is not None
    deps = local.deps
    issued = await web_access.issue_login_keys(
        deps.database.uow(),
        council_id=council_id,
        member_ids=[member.id],
        user_id=council.chair.id,
        now=deps.clock(),
        key=deps.signer.key_for("web"),
    )
    return f"/k/{issued[0].token}"


async def sign_in(local: LocalBot, client: httpx.AsyncClient, path: str) -> None:
    shown = await client.get(path)
    token = re.search(r'name="form_token" value="([0-9a-f]+)"', shown.text)
    assert token, shown.text
    signed = await client.post(
        path, data={"form_token": token.group(1)}, headers=same_origin(local)
    )
    assert signed.status_code == 303 and signed.headers["location"] == "/r", signed.text


def field(page: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]+)"', page)
    assert found, f"no {name} in the page"
    return html.unescape(found.group(1))


async def post(
    local: LocalBot, client: httpx.AsyncClient, path: str, page: str, **data: str
) -> httpx.Response:
    """Submit a form of ``page`` as a browser would: its CSRF token and nonce, our Origin."""
    form = {"csrf": field(page, "csrf"), "nonce": field(page, "nonce"), **data}
    return await client.post(path, data=form, headers=same_origin(local))


def group_ballot(local: LocalBot, council: Council, ballot_id: int) -> str:
    """The group's ballot message as it stands now (after the bot's edits)."""
    for message in local.emulator.messages(council.group):
        if message.from_bot and (message.text or "").startswith(f"🗳 表决 #{ballot_id}"):
            return text_of(local.emulator, message)
    raise AssertionError(f"no message of ballot #{ballot_id}")


async def wait_for_group(local: LocalBot, council: Council, ballot_id: int, part: str) -> str:
    """The ballot message once it shows ``part`` (the live tally is edited after the
    vote is committed: wait for the bot to be idle, a few times)."""
    shown = ""
    for _ in range(20):
        await local.emulator.wait_idle(quiet=0.2, timeout=30)
        shown = group_ballot(local, council, ballot_id)
        if part in shown:
            return shown
    raise AssertionError(f"{part!r} never shown:\n{shown}")


async def close(council: Council) -> None:
    """The chair closes the ballot; the outcome comes with its chart, drawn in a thread,
    which takes a while on a loaded machine: wait for it rather than for a quiet bot."""
    emu = council.emu
    await emu.wait_idle(timeout=60)
    after = emu.event_seq
    await emu.send_text(council.chair, council.group, "/close", thread_id=council.thread_id)
    await emu.wait_for_bot_message(
        council.group,
        after=after,
        timeout=60,
        predicate=lambda m: "表决结果" in ((m.text or m.caption) or ""),
    )
    await emu.wait_idle(timeout=60)


def text_only(page: str) -> str:
    """A page's visible words, for asserting what a reader sees."""
    body = re.sub(r"<(script|style)[^>]*>.*?</\1>", "", page, flags=re.S)
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body)))


# --- the whole round ---------------------------------------------------------------


async def test_a_resident_proposes_seconds_votes_and_the_group_sees_the_tally(
    web_local: LocalBot, http: httpx.AsyncClient
) -> None:
    council = await make_council(web_local)
    aunt, uncle = council.members[0], council.members[1]  # 张阿姨 in the chat, 李叔叔 on the web
    _card, topic_id = await council.topic("楼下空地做什么？")
    await council.say(aunt, "/propose 建一个小花园")
    uncle_entry = await roll_entry(web_local, 1, uncle.id)
    await sign_in(web_local, http, await key_path(web_local, council, uncle_entry))

    home = await http.get("/r")
    assert home.status_code == 200
    assert "正在征集建议" in home.text and "楼下空地做什么？" in home.text
    assert f'href="/r/t/{topic_id}"' in home.text
    assert "现在没有进行中的表决。" in home.text

    shown = await http.get(f"/r/t/{topic_id}")
    words = text_only(shown.text)
    assert "建一个小花园" in words and "提出人：张阿姨" in words and "附议 0 人" in words
    # Propose: the proposal is on the page, with its author, and on the topic.
    made = await post(
        web_local, http, f"/r/t/{topic_id}/propose", shown.text, text="在空地上装几张长椅"
    )
    assert made.status_code == 303 and made.headers["location"] == f"/r/t/{topic_id}?done=proposed"
    shown = await http.get(made.headers["location"])
    words = text_only(shown.text)
    assert "✔ 您的建议已提交" in words
    assert "在空地上装几张长椅 提出人：李叔叔 （您的建议）" in words
    assert await proposals_of(web_local, topic_id) == ["建一个小花园", "在空地上装几张长椅"]
    async with web_local.database.uow() as uow:
        proposals = await uow.proposals.for_topic(topic_id)
    aunts, mine = proposals[0].id, proposals[1].id
    assert mine is not None and proposals[1].author_id == uncle_entry.id

    # One's own proposal has no "second" button; pressing it anyway is refused in the
    # chat's words.
    assert f'action="/r/p/{mine}/second"' not in shown.text
    own = await post(web_local, http, f"/r/p/{mine}/second", shown.text)
    assert own.status_code == 400 and "✖ 不能附议自己的提案。" in text_only(own.text)
    # Second 张阿姨's: counted, the button becomes "seconded".
    seconded = await post(web_local, http, f"/r/p/{aunts}/second", shown.text)
    assert seconded.status_code == 303
    assert seconded.headers["location"] == f"/r/t/{topic_id}?done=seconded#p{aunts}"
    shown = await http.get(f"/r/t/{topic_id}?done=seconded")
    words = text_only(shown.text)
    assert "已附议 👍" in words and "✔ 您已附议" in words and "附议 1 人" in words
    async with web_local.database.uow() as uow:
        proposal = await uow.proposals.get(aunts or 0)
    assert proposal is not None and proposal.seconds == {uncle_entry.id}

    # The chair puts it to the vote; the page lists the ballot, the topic stops taking
    # proposals, with the chat's refusal.
    _message, ballot_id = await council.ballot()
    late = await post(web_local, http, f"/r/t/{topic_id}/propose", shown.text, text="再加一条")
    assert late.status_code == 400
    assert "✖ 议题「楼下空地做什么？」当前阶段不能这样做。" in text_only(late.text)
    assert "再加一条" in late.text  # what was typed is kept in the box
    home = await http.get("/r")
    assert f'href="/r/b/{ballot_id}"' in home.text and "去投票" in home.text

    page = await http.get(f"/r/b/{ballot_id}")
    words = text_only(page.text)
    assert "您还没有投票。" in words and "方式：记名" in words
    assert [m for m in re.findall(r'name="choice" value="(\w+)"', page.text)] == [
        "for",
        "against",
        "abstain",
    ]
    voted = await post(web_local, http, f"/r/b/{ballot_id}/vote", page.text, choice="for")
    assert voted.status_code == 303 and voted.headers["location"] == f"/r/b/{ballot_id}?done=voted"
    page = await http.get(voted.headers["location"])
    words = text_only(page.text)
    assert "✔ 已记录：赞成" in words and "您的选择：赞成" in words
    assert re.search(r'value="for" class="choice chosen" aria-pressed="true"', page.text)
    group = await wait_for_group(web_local, council, ballot_id, "赞成 1 ·")
    assert "赞成：李叔叔" in group and "已参与 1/5 人" in group

    # Change the vote: the group's message follows.
    changed = await post(web_local, http, f"/r/b/{ballot_id}/vote", page.text, choice="against")
    assert changed.status_code == 303
    page = await http.get(f"/r/b/{ballot_id}")
    assert "您的选择：反对" in text_only(page.text)
    group = await wait_for_group(web_local, council, ballot_id, "反对 1 ·")
    assert "赞成 0 · 反对 1 · 弃权 0" in group and "反对：李叔叔" in group
    assert await current_votes(web_local, ballot_id) == {uncle_entry.id: "against"}
    async with web_local.database.uow() as uow:
        (vote,) = (await uow.votes.of_members(ballot_id, [uncle_entry.id or 0])).values()
    assert vote.source.value == "web"

    # The tally fragment the page refreshes says the same.
    fragment = await http.get(f"/r/b/{ballot_id}/tally")
    assert fragment.status_code == 200 and "<html" not in fragment.text
    words = text_only(fragment.text)
    assert "反对 1 票" in words and "李叔叔" in words and "已参与 1/5 人" in words

    # The chair closes it: the page shows the outcome, its figures and the chart.
    await close(council)
    page = await http.get(f"/r/b/{ballot_id}")
    words = text_only(page.text)
    assert "最终票数" in words and "未通过" in words and 'name="choice"' not in page.text
    assert "您投的是：反对" in words
    assert f'src="/r/b/{ballot_id}/chart.png"' in page.text
    chart = await http.get(f"/r/b/{ballot_id}/chart.png")
    assert chart.status_code == 200 and chart.headers["content-type"] == "image/png"
    assert chart.content.startswith(b"\x89PNG")
    svg = await http.get(f"/r/b/{ballot_id}/chart.svg")
    assert svg.status_code == 200 and b"<svg" in svg.content
    home = await http.get("/r")
    assert "最近的表决结果" in home.text and "未通过" in text_only(home.text)


async def test_a_double_submitted_vote_counts_once(
    web_local: LocalBot, http: httpx.AsyncClient
) -> None:
    council = await make_council(web_local)
    await council.topic()
    _message, ballot_id = await council.ballot()
    member = await roll_entry(web_local, 1, council.members[2].id)
    await sign_in(web_local, http, await key_path(web_local, council, member))
    page = await http.get(f"/r/b/{ballot_id}")
    first = await post(web_local, http, f"/r/b/{ballot_id}/vote", page.text, choice="for")
    # The same form again (a double tap, a retried POST), even with another choice:
    # the same act, counted once; the page is just shown again.
    again = await post(web_local, http, f"/r/b/{ballot_id}/vote", page.text, choice="against")
    assert first.status_code == 303 and again.status_code == 303
    assert again.headers["location"] == f"/r/b/{ballot_id}"
    assert await vote_events(web_local, ballot_id) == 1
    assert await current_votes(web_local, ballot_id) == {member.id: "for"}
    # A form without a nonce is refused, nothing written.
    bare = await http.post(
        f"/r/b/{ballot_id}/vote",
        data={"csrf": field(page.text, "csrf"), "choice": "against"},
        headers=same_origin(web_local),
    )
    assert bare.status_code == 400 and "页面已过期" in text_only(bare.text)
    assert await vote_events(web_local, ballot_id) == 1

    # The chair cancels the topic: the ballot is void, its page says so and offers no
    # choice, and a form still open on a phone is refused in the chat's words.
    await council.say(council.chair, "/cancel")
    voided = await http.get(f"/r/b/{ballot_id}")
    assert "议题已撤销，本次表决作废" in text_only(voided.text)
    assert 'name="choice"' not in voided.text
    fresh = page.text.replace(field(page.text, "nonce"), "n" * 22)
    late = await post(web_local, http, f"/r/b/{ballot_id}/vote", fresh, choice="against")
    assert late.status_code == 400
    assert "✖ 表决「拆除违建后空出的空地做什么？」已结束，不能再投票。" in text_only(late.text)
    assert await current_votes(web_local, ballot_id) == {member.id: "for"}
    assert "已作废（议题已撤销）" in text_only((await http.get("/r")).text)

    # A proposal's double submit too.
    _card, topic_id = await council.topic("第二个议题")
    shown = await http.get(f"/r/t/{topic_id}")
    for _ in range(2):
        made = await post(web_local, http, f"/r/t/{topic_id}/propose", shown.text, text="只提一次")
        assert made.status_code == 303
    assert await proposals_of(web_local, topic_id) == ["只提一次"]


async def test_another_councils_ballot_is_not_found_and_a_form_needs_its_csrf_token(
    web_local: LocalBot, http: httpx.AsyncClient
) -> None:
    ours = await make_council(web_local)
    theirs = await make_council(web_local)  # another group, its own chair and roll
    await ours.topic()
    _m, our_ballot = await ours.ballot()
    _card, their_topic = await theirs.topic("别的小区的议题")
    await theirs.say(theirs.members[0], "/propose 别人的提案")
    _m, their_ballot = await theirs.ballot()
    async with web_local.database.uow() as uow:
        (their_proposal,) = await uow.proposals.for_topic(their_topic)
    member = await roll_entry(web_local, 1, ours.members[0].id)
    await sign_in(web_local, http, await key_path(web_local, ours, member))
    page = await http.get(f"/r/b/{our_ballot}")

    for path in (
        f"/r/b/{their_ballot}",
        f"/r/b/{their_ballot}/tally",
        f"/r/b/{their_ballot}/chart.png",
        f"/r/t/{their_topic}",
        "/r/b/99999",
    ):
        shown = await http.get(path)
        assert shown.status_code == 404, path
        assert "别的小区的议题" not in shown.text
    refused = await post(web_local, http, f"/r/b/{their_ballot}/vote", page.text, choice="for")
    assert refused.status_code == 404 and "✖" in refused.text
    seconded = await post(web_local, http, f"/r/p/{their_proposal.id}/second", page.text)
    assert seconded.status_code == 404
    proposed = await post(
        web_local, http, f"/r/t/{their_topic}/propose", page.text, text="越界的提案"
    )
    assert proposed.status_code == 404
    assert await vote_events(web_local, their_ballot) == 0
    assert await proposals_of(web_local, their_topic) == ["别人的提案"]

    # Our own ballot, without the CSRF token or from another site: refused, not counted.
    form = {"nonce": field(page.text, "nonce"), "choice": "for"}
    no_token = await http.post(f"/r/b/{our_ballot}/vote", data=form, headers=same_origin(web_local))
    assert no_token.status_code == 403
    wrong = await http.post(
        f"/r/b/{our_ballot}/vote", data={**form, "csrf": "0" * 32}, headers=same_origin(web_local)
    )
    assert wrong.status_code == 403
    elsewhere = await http.post(
        f"/r/b/{our_ballot}/vote",
        data={**form, "csrf": field(page.text, "csrf")},
        headers={"origin": "https://evil.example"},
    )
    assert elsewhere.status_code == 403
    assert await vote_events(web_local, our_ballot) == 0
    # Signed out: the page asks to sign in, and a POST is not counted either.
    async with httpx.AsyncClient(base_url=web_local.web_url or "") as stranger:
        assert (await stranger.get(f"/r/b/{our_ballot}")).status_code == 401
        posted = await stranger.post(
            f"/r/b/{our_ballot}/vote", data=form, headers=same_origin(web_local)
        )
        assert posted.status_code == 401
    assert await vote_events(web_local, our_ballot) == 0


async def test_a_secret_ballots_page_names_no_voter(
    web_local: LocalBot, http: httpx.AsyncClient
) -> None:
    council = await make_council(web_local)
    await council.topic()
    _m, ballot_id = await council.ballot("secret")
    entries = [await roll_entry(web_local, 1, user.id) for user in council.members]
    clients = []
    for entry in entries:
        client = httpx.AsyncClient(base_url=web_local.web_url or "")
        clients.append(client)
        await sign_in(web_local, client, await key_path(web_local, council, entry))
    try:
        for client, choice in zip(clients, ("for", "for", "against", "abstain"), strict=True):
            page = await client.get(f"/r/b/{ballot_id}")
            voted = await post(
                web_local, client, f"/r/b/{ballot_id}/vote", page.text, choice=choice
            )
            assert voted.status_code == 303
        page = await clients[0].get(f"/r/b/{ballot_id}")
        words = text_only(page.text)
        assert "方式：无记名" in words and "您的选择：赞成" in words
        assert "赞成 2 票" in words and "反对 1 票" in words and "已参与 4/5 人" in words
        everyone = [council.chair.full_name, *(u.full_name for u in council.members)]
        # In English, for whoever chose it (the language links at the foot of the page).
        chosen = await clients[1].get(f"/lang/en?next=/r/b/{ballot_id}")
        assert chosen.status_code in (302, 303)
        english = text_only((await clients[1].get(f"/r/b/{ballot_id}")).text)
        assert "Votes so far" in english and "Your choice: For" in english, english
        assert "For 2 votes Against 1 vote Abstain 1 vote " in english, english

        async def names_nobody_else(closed: bool) -> None:
            for client, own in zip(clients, council.members, strict=True):
                page = await client.get(f"/r/b/{ballot_id}")
                fragment = await client.get(f"/r/b/{ballot_id}/tally")
                assert ('name="choice"' not in page.text) is closed
                # The header names who is signed in; nobody else is named anywhere.
                for name in everyone:
                    assert name not in fragment.text, name
                    if name != own.full_name:
                        assert name not in page.text, name

        await names_nobody_else(closed=False)
        await close(council)
        await names_nobody_else(closed=True)
        chart = await clients[0].get(f"/r/b/{ballot_id}/chart.svg")
        assert chart.status_code == 200
        for name in everyone:
            assert name.encode() not in chart.content
    finally:
        for client in clients:
            await client.aclose()


# --- a phone ---------------------------------------------------------------------


async def test_on_a_phone_a_resident_presses_a_choice_and_sees_it_marked(
    web_local: LocalBot, browser: Any, pages: list[Any]
) -> None:
    council = await make_council(web_local)
    await council.topic("小区东门要不要加装自行车棚？")
    await council.say(council.members[0], "/propose 在东门旁边加装一个有顶棚的车棚")
    _m, ballot_id = await council.ballot()
    member = await roll_entry(web_local, 1, council.members[3].id)  # 陈师傅
    phone = await phone_page(browser, pages)
    await phone.goto(f"{web_local.web_url}{await key_path(web_local, council, member)}")
    await phone.get_by_role("button", name="进入").click()
    await phone.wait_for_url("**/r")
    # What the other pages look like, for a person to check (not asserted here).
    OUTPUT.mkdir(parents=True, exist_ok=True)
    await phone.screenshot(path=str(OUTPUT / "resident-home.png"), full_page=True)
    await phone.goto(f"{web_local.web_url}/r/t/1")
    await phone.screenshot(path=str(OUTPUT / "resident-topic.png"), full_page=True)
    await phone.go_back()
    await phone.get_by_role("link", name=re.compile("去投票")).click()
    await phone.wait_for_url(f"**/r/b/{ballot_id}")
    assert await phone.get_by_text("您还没有投票。").is_visible()
    await phone.get_by_role("button", name=re.compile("赞成")).click()
    await phone.wait_for_url(f"**/r/b/{ballot_id}?done=voted")
    chosen = phone.locator("button.chosen")
    assert await chosen.count() == 1
    assert "赞成" in await chosen.inner_text()
    assert await chosen.get_attribute("aria-pressed") == "true"
    assert await phone.get_by_text("您的选择：赞成").is_visible()
    # Big enough to press and read: full width of the phone, at least 56 px tall.
    box = await chosen.bounding_box()
    assert box is not None and box["width"] >= 300 and box["height"] >= 56
    # Nothing wider than the phone (no sideways scrolling).
    width = await phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 375
    group = await wait_for_group(web_local, council, ballot_id, "赞成 1 ·")
    assert "赞成：陈师傅" in group
    # The tally refreshes by itself: a vote in the chat appears without a reload.
    message = next(
        m
        for m in web_local.emulator.messages(council.group)
        if m.from_bot and (m.text or "").startswith(f"🗳 表决 #{ballot_id}")
    )
    await press(web_local.emulator, council.members[0], message, button(message, "反对"))
    await phone.locator("#tally").get_by_text("张阿姨").wait_for(timeout=10_000)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await phone.screenshot(path=str(SCREENSHOTS / "resident-ballot.png"), full_page=True)


async def test_a_household_without_telegram_proposes_seconds_and_votes(
    web_local: LocalBot, http: httpx.AsyncClient
) -> None:
    """An imported roll's household (no Telegram account: ``user_id`` None) acts by its
    roll entry; the group's topic card lists its proposal, the ballot its vote."""
    council = await make_council(web_local)
    card, topic_id = await council.topic("楼道灯坏了怎么办？")
    await council.say(council.members[0], "/propose 请物业统一更换声控灯")
    async with web_local.database.uow() as uow:
        grandma = await uow.members.add(
            Member(
                council_id=1,
                user_id=None,
                name="王奶奶",
                building="5",
                unit="1",
                room="101",
                joined_at=web_local.deps.clock(),
            )
        )
        await uow.commit()
    assert grandma.id is not None and grandma.user_id is None
    await sign_in(web_local, http, await key_path(web_local, council, grandma))
    shown = await http.get(f"/r/t/{topic_id}")
    made = await post(
        web_local, http, f"/r/t/{topic_id}/propose", shown.text, text="每层加一个感应灯"
    )
    assert made.status_code == 303
    async with web_local.database.uow() as uow:
        aunts, hers = await uow.proposals.for_topic(topic_id)
    assert hers.author_id == grandma.id and hers.text == "每层加一个感应灯"
    await web_local.emulator.wait_idle(quiet=0.3)
    assert "每层加一个感应灯" in text_of(web_local.emulator, card)
    assert "王奶奶" in text_of(web_local.emulator, card)
    shown = await http.get(f"/r/t/{topic_id}")
    seconded = await post(web_local, http, f"/r/p/{aunts.id}/second", shown.text)
    assert seconded.status_code == 303
    async with web_local.database.uow() as uow:
        again = await uow.proposals.get(aunts.id or 0)
    assert again is not None and again.seconds == {grandma.id}

    _message, ballot_id = await council.ballot()
    page = await http.get(f"/r/b/{ballot_id}")
    voted = await post(web_local, http, f"/r/b/{ballot_id}/vote", page.text, choice="for")
    assert voted.status_code == 303
    assert await current_votes(web_local, ballot_id) == {grandma.id: "for"}
    group = await wait_for_group(web_local, council, ballot_id, "赞成 1 ·")
    assert "赞成：王奶奶" in group and "已参与 1/6 人" in group
