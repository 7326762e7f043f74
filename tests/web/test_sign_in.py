"""Signing in on the web, over real HTTP to the web beside the real bot: the console
link ``/console`` sends privately (used once), a forged or stale Mini App ``initData``,
a household's login key (as often as scanned, until revoked), CSRF and headers."""

from __future__ import annotations

import re
import time

import httpx

from bot.telegram.local import LocalBot
from domain.services import web_access
from tests.bot.conftest import make_council, say
from tests.web.conftest import init_data, same_origin


def link_in(text: str) -> str:
    found = re.search(r"https?://\S+/login/[\w-]+", text)
    assert found, text
    return found.group(0)


async def console_link(local: LocalBot, user: object) -> str:
    reply = await say(local.emulator, user, user, "/console")  # type: ignore[arg-type]
    assert reply.text is not None
    return link_in(reply.text)


def form_token(html: str) -> str:
    found = re.search(r'name="form_token" value="([0-9a-f]+)"', html)
    assert found, html
    return found.group(1)


async def test_a_chair_signs_in_by_the_link_once(
    web_local: LocalBot, http: httpx.AsyncClient
) -> None:
    council = await make_council(web_local)
    url = await console_link(web_local, council.chair)
    assert url.startswith(web_local.web_url or "")
    path = url.removeprefix(web_local.web_url or "")

    shown = await http.get(path)  # opening the link (a preview) does not use it
    assert shown.status_code == 200 and "登录议事会管理台" in shown.text
    token = form_token(shown.text)
    signed = await http.post(path, data={"form_token": token}, headers=same_origin(web_local))
    assert signed.status_code == 303 and signed.headers["location"] == "/console"
    cookie = signed.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie
    home = await http.get("/console")
    assert home.status_code == 200 and "杨家园社区小院议事会" in home.text
    assert "frame-ancestors 'none'" in home.headers["content-security-policy"]

    # The same link again, from another browser: refused, and recorded.
    async with httpx.AsyncClient(base_url=web_local.web_url or "") as other:
        again = await other.post(path, data={"form_token": token}, headers=same_origin(web_local))
        assert again.status_code == 403 and "已经用过" in again.text
        assert (await other.get("/console")).status_code == 401


async def test_a_resident_cannot_get_a_console_link(
    web_local: LocalBot, http: httpx.AsyncClient
) -> None:
    council = await make_council(web_local)
    reply = await say(web_local.emulator, council.members[0], council.members[0], "/console")
    assert reply.text is not None and "/login/" not in reply.text and "⛔" in reply.text


async def test_a_post_from_another_site_is_refused(
    web_local: LocalBot, http: httpx.AsyncClient
) -> None:
    council = await make_council(web_local)
    path = (await console_link(web_local, council.chair)).removeprefix(web_local.web_url or "")
    token = form_token((await http.get(path)).text)
    forged = await http.post(
        path, data={"form_token": token}, headers={"origin": "https://evil.example"}
    )
    assert forged.status_code == 403
    # The link was not spent by the refused post.
    signed = await http.post(path, data={"form_token": token}, headers=same_origin(web_local))
    assert signed.status_code == 303


async def test_mini_app_init_data_forged_or_stale_is_refused_and_good_signs_in(
    web_local: LocalBot, http: httpx.AsyncClient
) -> None:
    council = await make_council(web_local)
    token = web_local.emulator.token
    assert token is not None
    member = council.members[0]
    now = int(time.time())
    good = init_data(token, member.id, auth_date=now, start="c1")
    forged = good.replace(f"%22id%22%3A{member.id}", f"%22id%22%3A{council.chair.id}")
    assert forged != good
    stale = init_data(token, member.id, auth_date=now - 2 * 86400, start="c1")
    wrong_bot = init_data("123:other", member.id, auth_date=now, start="c1")
    for bad, why in ((forged, "校验失败"), (wrong_bot, "校验失败"), (stale, "已过期")):
        refused = await http.post(
            "/app/session", data={"init_data": bad}, headers=same_origin(web_local)
        )
        assert refused.status_code == 403, refused.text
        assert why in refused.json()["error"]
        assert "set-cookie" not in refused.headers
    signed = await http.post(
        "/app/session", data={"init_data": good}, headers=same_origin(web_local)
    )
    assert signed.status_code == 200 and signed.json() == {"go": "/r"}
    home = await http.get("/r")
    assert home.status_code == 200 and "张阿姨" in home.text
    # Not on the roll: refused.
    outsider = init_data(token, council.outsider.id, auth_date=now, start="c1")
    async with httpx.AsyncClient(base_url=web_local.web_url or "") as other:
        refused = await other.post(
            "/app/session", data={"init_data": outsider}, headers=same_origin(web_local)
        )
        assert refused.status_code == 403 and "不在本议事会名册" in refused.json()["error"]


async def test_a_household_key_signs_in_as_often_as_scanned_until_revoked(
    web_local: LocalBot, http: httpx.AsyncClient
) -> None:
    council = await make_council(web_local)
    deps = web_local.deps
    key = deps.signer.key_for("web")
    async with deps.database.uow() as uow:
        member = await uow.members.by_user(1, council.members[1].id)
    assert member is not None and member.id is not None
    issued = await web_access.issue_login_keys(
        deps.database.uow(),
        council_id=1,
        member_ids=[member.id],
        user_id=council.chair.id,
        now=deps.clock(),
        key=key,
    )
    path = f"/k/{issued[0].token}"
    for _ in range(2):  # WeChat's browser forgot the cookie: scanning again works
        async with httpx.AsyncClient(base_url=web_local.web_url or "") as browser:
            token = form_token((await browser.get(path)).text)
            signed = await browser.post(
                path, data={"form_token": token}, headers=same_origin(web_local)
            )
            assert signed.status_code == 303 and signed.headers["location"] == "/r"
            assert "李叔叔" in (await browser.get("/r")).text
    signed_in = httpx.AsyncClient(base_url=web_local.web_url or "")
    token = form_token((await signed_in.get(path)).text)
    await signed_in.post(path, data={"form_token": token}, headers=same_origin(web_local))
    assert (await signed_in.get("/r")).status_code == 200
    await web_access.revoke_login_key(
        deps.database.uow(),
        council_id=1,
        member_id=member.id,
        user_id=council.chair.id,
        now=deps.clock(),
    )
    assert (await signed_in.get("/r")).status_code == 401  # its browsers are signed out
    again = await signed_in.post(path, data={"form_token": token}, headers=same_origin(web_local))
    assert again.status_code == 403 and "已停用" in again.text
    await signed_in.aclose()
    async with deps.database.uow() as uow:
        trail = await uow.web.trail(1, member_id=member.id)
    kinds = [event.kind.value for event in reversed(trail)]
    assert kinds[:1] == ["key_issued"] and kinds.count("key_used") == 3
    assert kinds[-2:] == ["key_revoked", "key_refused"]


async def test_a_download_says_each_security_header_once(
    web_local: LocalBot, http: httpx.AsyncClient
) -> None:
    council = await make_council(web_local)
    path = (await console_link(web_local, council.chair)).removeprefix(web_local.web_url or "")
    token = form_token((await http.get(path)).text)
    await http.post(path, data={"form_token": token}, headers=same_origin(web_local))
    for path in ("/console/roll.xlsx", "/console/turnout.xlsx", "/console/hours.xlsx"):
        download = await http.get(path)
        assert download.status_code == 200, path
        for name in ("x-content-type-options", "cache-control", "content-security-policy"):
            assert len(download.headers.get_list(name)) == 1, (path, name, download.headers)
        assert "no-store" in download.headers["cache-control"]
