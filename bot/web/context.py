"""What the web's handlers share: dependencies on ``app.state``, the visitor a request's
cookie signs in, the language, and rendering a page."""

from __future__ import annotations

import functools
import hashlib
import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from bot.config import Settings
from bot.i18n import ZH_CN, Markup, language_of, refusal_text, t
from bot.web.tallies import Tallies
from domain import errors
from domain.ports import Clock
from domain.services.web_access import Lifetimes, Visitor, visitor

if TYPE_CHECKING:
    from jinja2 import Environment

    from bot.runtime.ballot_box import BallotBox
    from storage.uow import Database

STAFF_COOKIE = "yishi_staff"
HOME_COOKIE = "yishi_home"
LANG_COOKIE = "yishi_lang"

Handler = Callable[[Request], Awaitable[Response]]


@dataclass
class WebDeps:
    settings: Settings
    database: Database
    clock: Clock
    key: bytes  # the web's: digests of links, keys and sessions; CSRF tokens
    token: str  # the bot's, for Mini App initData
    ballot_box: BallotBox
    templates: Environment
    lifetimes: Lifetimes
    bot_username: str | None = None
    tallies: Tallies = field(default_factory=Tallies)

    @property
    def base_url(self) -> str:
        return self.settings.public_web_url()

    @property
    def https(self) -> bool:
        return self.base_url.startswith("https://")


def deps(request: Request) -> WebDeps:
    found: WebDeps = request.app.state.deps
    return found


def client_of(request: Request) -> str:
    """The browser's address for the rate limit and the audit trail. Behind a reverse
    proxy, run uvicorn with --forwarded-allow-ips so this is the real client's."""
    return request.client.host if request.client else "unknown"


async def current(request: Request, *, staff: bool) -> Visitor | None:
    """The visitor the request's cookie signs in (read once per request)."""
    name = STAFF_COOKIE if staff else HOME_COOKIE
    cached = getattr(request.state, name, None)
    if cached is not None:
        return cached or None
    token = request.cookies.get(name, "")
    d = deps(request)
    found = None
    if token:
        found = await visitor(d.database.reader(), token=token, now=d.clock(), key=d.key)
    if found is not None and found.is_staff != staff:
        found = None
    setattr(request.state, name, found or False)
    return found


def language(request: Request, visitor: Visitor | None = None) -> str:
    """zh-CN unless the visitor chose another (a cookie), or the member's language."""
    chosen = request.cookies.get(LANG_COOKIE)
    if chosen:
        return language_of(chosen, ZH_CN)
    if visitor is not None and visitor.member is not None and visitor.member.language:
        return language_of(visitor.member.language, ZH_CN)
    return language_of(deps(request).settings.language, ZH_CN)


def page(
    request: Request,
    template: str,
    *,
    lang: str,
    status: int = 200,
    visitor: Visitor | None = None,
    **context: Any,
) -> HTMLResponse:
    html = deps(request).templates.get_template(template).render(
        request=request,
        lang=lang,
        t=functools.partial(t, lang),
        visitor=visitor,
        csrf=csrf_token(request, visitor),
        **context,
    )
    return HTMLResponse(html, status_code=status)


def refusal(lang: str, error: errors.DomainError) -> Markup:
    """A refusal in the chat's words, with a mark every font draws: the chat's ⛔ is an
    emoji, an empty box in a browser without an emoji font (Debian's Chromium, older
    phones)."""
    return Markup(refusal_text(lang, error).replace("⛔", "✖", 1))


def refused(
    request: Request, error: errors.DomainError, *, lang: str, visitor: Visitor | None = None
) -> HTMLResponse:
    """A refusal as a page, in the words the chat uses (``bot.i18n.refusal_text``)."""
    missing = (
        errors.NotFound | errors.BallotNotFound | errors.TopicNotFound | errors.ProposalNotFound
    )
    status = 404 if isinstance(error, missing) else 400
    if isinstance(error, errors.NotStaff):
        status = 403
    return page(
        request,
        "refused.html",
        lang=lang,
        status=status,
        visitor=visitor,
        message=refusal(lang, error),
    )


def staff_only(handler: Callable[[Request, Visitor], Awaitable[Response]]) -> Handler:
    """A console page: a chair's or staff member's session, else the sign-in page."""

    @functools.wraps(handler)
    async def wrapper(request: Request) -> Response:
        found = await current(request, staff=True)
        if found is None:
            lang = language(request)
            return page(request, "signed_out.html", lang=lang, status=401, staff=True)
        try:
            return await handler(request, found)
        except errors.DomainError as error:
            return refused(request, error, lang=language(request, found), visitor=found)

    return wrapper


def resident_only(handler: Callable[[Request, Visitor], Awaitable[Response]]) -> Handler:
    """A residents' page: a household's session (login key or Mini App)."""

    @functools.wraps(handler)
    async def wrapper(request: Request) -> Response:
        found = await current(request, staff=False)
        if found is None:
            lang = language(request)
            return page(request, "signed_out.html", lang=lang, status=401, staff=False)
        try:
            return await handler(request, found)
        except errors.DomainError as error:
            return refused(request, error, lang=language(request, found), visitor=found)

    return wrapper


def see_other(url: str) -> RedirectResponse:
    """After a POST: the page to show, fetched anew (a reload does not post again)."""
    return RedirectResponse(url, status_code=303)


def mac(key: bytes, text: str) -> str:
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()[:32]


def csrf_token(request: Request, visitor: Visitor | None) -> str:
    """The token the visitor's forms carry ("" without a session)."""
    if visitor is None:
        return ""
    name = STAFF_COOKIE if visitor.is_staff else HOME_COOKIE
    return mac(deps(request).key, "csrf:" + request.cookies.get(name, ""))
