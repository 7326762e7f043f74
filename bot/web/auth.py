"""Signing in and out: a console link, a household's login key, the Mini App."""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from bot.i18n import language_of
from bot.web.context import (
    HOME_COOKIE,
    LANG_COOKIE,
    STAFF_COOKIE,
    client_of,
    current,
    deps,
    language,
    page,
    refusal,
    see_other,
)
from bot.web.init_data import InitDataRefused, validate
from bot.web.security import forbidden, same_origin, sign_in_token
from domain.services import web_access
from domain.web_access import SessionKind, WebRefused, looks_like_token

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Way:
    """A way in by a secret in the URL: a console link or a household's login key."""

    purpose: str  # the sign-in form's token is made for it
    prefix: str  # the URL's: /login/<token>, /k/<token>
    staff: bool
    to: str  # where the new session goes
    use: Callable[..., Awaitable[web_access.SignedIn]]


LINK = _Way("link", "/login", True, "/console", web_access.sign_in_by_link)
KEY = _Way("key", "/k", False, "/r", web_access.sign_in_by_key)


def _shown(way: _Way) -> Callable[[Request], Awaitable[Response]]:
    """GET: a page with one button that signs in. Opening the URL does not use it, so a
    link preview or a scanner fetching it does not spend a console link."""

    async def show(request: Request) -> Response:
        token = request.path_params["token"]
        lang = language(request)
        if not looks_like_token(token):
            return page(request, "sign_in.html", lang=lang, status=404, bad=True, staff=way.staff)
        return page(
            request,
            "sign_in.html",
            lang=lang,
            staff=way.staff,
            action=f"{way.prefix}/{token}",
            form_token=sign_in_token(request, way.purpose, token),
        )

    return show


def _signs_in(way: _Way) -> Callable[[Request], Awaitable[Response]]:
    """POST of the page's button: the use case, then the cookie or the refusal."""

    async def sign_in(request: Request) -> Response:
        token = request.path_params["token"]
        if not await _sign_in_form_ok(request, way.purpose, token):
            return forbidden()
        d = deps(request)
        signed = await way.use(
            d.database.uow(),
            token=token,
            client=client_of(request),
            now=d.clock(),
            key=d.key,
            lifetimes=d.lifetimes,
        )
        return _signed_in(request, signed, staff=way.staff, to=way.to)

    return sign_in


async def _sign_in_form_ok(request: Request, purpose: str, secret: str) -> bool:
    if not same_origin(request):
        return False
    form = await request.form()
    given = form.get("form_token")
    expected = sign_in_token(request, purpose, secret)
    return isinstance(given, str) and hmac.compare_digest(given.encode(), expected.encode())


def _signed_in(
    request: Request, signed: web_access.SignedIn, *, staff: bool, to: str
) -> Response:
    lang = language(request)
    if signed.refusal is not None or signed.token is None or signed.session is None:
        assert signed.refusal is not None
        status = 429 if signed.refusal.params.get("field") == "too_many" else 403
        return page(
            request,
            "refused.html",
            lang=lang,
            status=status,
            message=refusal(lang, signed.refusal),
        )
    response = see_other(to)
    _set_cookie(request, response, signed, staff=staff)
    return response


def _set_cookie(
    request: Request, response: Response, signed: web_access.SignedIn, *, staff: bool
) -> None:
    d = deps(request)
    assert signed.session is not None and signed.token is not None
    lasts = signed.session.expires_at - signed.session.created_at
    # The residents' page may be shown in Telegram Web's iframe (the Mini App), where
    # only a SameSite=None cookie is sent; that needs HTTPS. The console is never framed.
    framed = not staff and d.https
    response.set_cookie(
        STAFF_COOKIE if staff else HOME_COOKIE,
        signed.token,
        max_age=int(lasts / timedelta(seconds=1)),
        path="/",
        httponly=True,
        secure=d.https,
        samesite="none" if framed else "lax",
    )


async def mini_app(request: Request) -> Response:
    """The Mini App's first page: Telegram's script hands ``initData`` to
    ``static/miniapp.js``, which posts it to ``/app/session``."""
    return page(request, "mini_app.html", lang=language(request))


async def mini_app_session(request: Request) -> Response:
    if not same_origin(request):
        return forbidden()
    d = deps(request)
    form = await request.form()
    raw = form.get("init_data")
    target = form.get("to")
    now = d.clock()
    lang = language(request)
    try:
        data = validate(
            raw if isinstance(raw, str) else "",
            d.token,
            now=now,
            max_age=timedelta(minutes=d.settings.web_app_max_age_minutes),
        )
    except InitDataRefused as refused:
        log.info("Mini App initData refused (%s) from %s", refused.why, client_of(request))
        await web_access.refused_telegram(
            d.database.uow(), client=client_of(request), now=now, why=refused.why
        )
        error = WebRefused(field=refused.why)
        return JSONResponse({"error": str(refusal(lang, error))}, status_code=403)
    lang = language_of(data.language, lang)
    wanted = data.start_param or (target if isinstance(target, str) else "") or ""
    council_id, go = await _target(request, wanted)
    if council_id is None:
        error = WebRefused(field="not_member")
        return JSONResponse({"error": str(refusal(lang, error))}, status_code=404)
    signed = await web_access.sign_in_by_telegram(
        d.database.uow(),
        user_id=data.user_id,
        council_id=council_id,
        client=client_of(request),
        now=now,
        key=d.key,
        lifetimes=d.lifetimes,
    )
    if signed.refusal is not None:
        return JSONResponse({"error": str(refusal(lang, signed.refusal))}, status_code=403)
    response = JSONResponse({"go": go})
    _set_cookie(request, response, signed, staff=False)
    return response


async def _target(request: Request, wanted: str) -> tuple[int | None, str]:
    """The council and page a Mini App start parameter names: ``b12`` a ballot, ``t7``
    a topic, ``c3`` a council's open topics."""
    from domain.numbers import read_id

    d = deps(request)
    kind, number = wanted[:1], read_id(wanted[1:]) if wanted[1:] else None
    if number is None:
        return None, "/r"
    async with d.database.uow() as uow:
        if kind == "b":
            ballot = await uow.ballots.get(number)
            return (ballot.council_id, f"/r/b/{number}") if ballot else (None, "/r")
        if kind == "t":
            topic = await uow.topics.get(number)
            return (topic.council_id, f"/r/t/{number}") if topic else (None, "/r")
        if kind == "c":
            council = await uow.councils.get(number)
            return (council.id, "/r") if council else (None, "/r")
    return None, "/r"


async def sign_out(request: Request) -> Response:
    """Either session (the form says which), with its CSRF token."""
    staff = request.query_params.get("staff") == "1"
    found = await current(request, staff=staff)
    if found is None:
        return see_other("/")
    from bot.web.security import checked_form

    if await checked_form(request, found) is None:
        return forbidden()
    d = deps(request)
    name = STAFF_COOKIE if found.session.kind is SessionKind.STAFF else HOME_COOKIE
    await web_access.sign_out(
        d.database.uow(), token=request.cookies.get(name, ""), now=d.clock(), key=d.key
    )
    response = see_other("/")
    response.delete_cookie(name, path="/")
    return response


async def choose_language(request: Request) -> Response:
    """``/lang/en?next=/r``: the visitor's language, kept in a cookie."""
    code = language_of(request.path_params["code"])
    target = request.query_params.get("next", "/")
    if not target.startswith("/") or target.startswith("//"):
        target = "/"  # only our own pages: no open redirect
    response = RedirectResponse(quote(target, safe="/?=&"), status_code=303)
    response.set_cookie(LANG_COOKIE, code, max_age=365 * 86400, path="/", samesite="lax")
    return response


async def front(request: Request) -> Response:
    """``/``: where a signed-in visitor goes, or how to sign in."""
    if await current(request, staff=True) is not None:
        return see_other("/console")
    if await current(request, staff=False) is not None:
        return see_other("/r")
    return page(request, "signed_out.html", lang=language(request), status=200, staff=None)


async def health(_request: Request) -> Response:
    return JSONResponse({"ok": True})


routes = [
    Route("/", front),
    Route("/healthz", health),
    *(
        route
        for way in (LINK, KEY)
        for route in (
            Route(f"{way.prefix}/{{token}}", _shown(way), methods=["GET"]),
            Route(f"{way.prefix}/{{token}}", _signs_in(way), methods=["POST"]),
        )
    ),
    Route("/app", mini_app, methods=["GET"]),
    Route("/app/session", mini_app_session, methods=["POST"]),
    Route("/logout", sign_out, methods=["POST"]),
    Route("/lang/{code}", choose_language),
]
