"""What every response and every POST goes through: security headers and a
Content-Security-Policy, and the CSRF check.

CSRF: every form carries a token, the HMAC of the visitor's session token under the
web's key (no state kept; a new session, a new token), and a POST must also come from
our own origin (``Origin``, else ``Referer``). Sign-in forms, posted before there is
a session, carry the HMAC of the link or key they sign in with.
"""

from __future__ import annotations

import hmac
from urllib.parse import urlsplit

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.web.context import csrf_token, deps, mac
from domain.services.web_access import Visitor

# Pages may be shown inside Telegram (the Mini App: an iframe in Telegram Web); the
# console never is.
TELEGRAM_FRAMES = "https://web.telegram.org https://*.telegram.org"
SCRIPTS = "'self' https://telegram.org"  # the Mini App's telegram-web-app.js


def csp(path: str) -> str:
    framed = not path.startswith("/console")
    return "; ".join(
        (
            "default-src 'self'",
            f"script-src {SCRIPTS}",
            "style-src 'self'",
            "img-src 'self' data:",
            "connect-src 'self'",
            "form-action 'self'",
            "base-uri 'none'",
            "object-src 'none'",
            f"frame-ancestors {TELEGRAM_FRAMES if framed else chr(39) + 'none' + chr(39)}",
        )
    )


class SecurityHeaders:
    """A pure ASGI middleware (no per-request task, unlike BaseHTTPMiddleware)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        headers = [
            (b"content-security-policy", csp(path).encode()),
            (b"x-content-type-options", b"nosniff"),
            # Links and keys travel in URLs: never hand them to another site. Not
            # "no-referrer": a browser then sends "Origin: null" with our own forms'
            # POSTs (Fetch: serializing a request origin), and the origin check fails.
            (b"referrer-policy", b"same-origin"),
            (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
        ]
        if path.startswith("/console"):
            headers.append((b"x-frame-options", b"DENY"))
        if not path.startswith("/static/"):
            headers.append((b"cache-control", b"no-store"))

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                own = list(message.get("headers", []))
                named = {name.lower() for name, _ in own}
                # A response that says it itself (a download's cache-control) keeps its own.
                message["headers"] = own + [h for h in headers if h[0] not in named]
            await send(message)

        await self.app(scope, receive, with_headers)


def sign_in_token(request: Request, purpose: str, secret: str) -> str:
    """What a sign-in form carries: the HMAC of the link or key it signs in with."""
    return mac(deps(request).key, f"sign-in:{purpose}:{secret}")


def same_origin(request: Request) -> bool:
    """A POST from one of our pages: its Origin (or Referer) is our address, or the
    address the request came to (a test's, or a proxy's that keeps the Host)."""
    origin = request.headers.get("origin") or request.headers.get("referer")
    if not origin or origin == "null":
        return False
    parts = urlsplit(origin)
    mine = {
        _origin(deps(request).base_url),
        _origin(str(request.base_url)),
    }
    return f"{parts.scheme}://{parts.netloc}" in mine


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


async def checked_form(request: Request, visitor: Visitor) -> FormData | None:
    """The POSTed form (fields and files) if it is ours (origin and CSRF token), else
    None: the caller answers 403 (``forbidden``)."""
    if not same_origin(request):
        return None
    form = await request.form()
    given = form.get("csrf")
    if not isinstance(given, str) or not hmac.compare_digest(
        given.encode(), csrf_token(request, visitor).encode()
    ):
        return None
    return form


def forbidden() -> PlainTextResponse:
    return PlainTextResponse("403: the form is not ours (CSRF)", status_code=403)
