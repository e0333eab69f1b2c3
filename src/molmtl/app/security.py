"""Safe by default: a token when one is set, capped request bodies, strict browser headers,
and Host checks on a loopback server (no DNS rebinding from a web page).

All three are plain ASGI middleware, so they cover the API, the page, the docs and the static files.
"""

from __future__ import annotations

import secrets
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: The cookie a page carries after it was opened once with ``?token=``.
COOKIE = "molmtl_token"

#: Everything the page loads is the server's own: no CDN, no inline script, no plug-ins, no frames.
CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
                           "img-src 'self' data: blob:; connect-src 'self'; worker-src 'self' blob:; "
                           "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
_HEADERS = [(b"content-security-policy", CONTENT_SECURITY_POLICY.encode()), (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"no-referrer"), (b"x-frame-options", b"DENY")]


class TokenAuth:
    """Every request must carry the token: ``Authorization: Bearer T``, the cookie, or ``?token=T``.

    A page opened with ``?token=T`` is redirected to the same address without it, with the token
    in an HttpOnly, SameSite=Strict cookie (the address can then be shared without the token).
    """

    def __init__(self, app: ASGIApp, token: str):
        self.app, self.token = app, token

    def _matches(self, value: str | None) -> bool:
        return bool(value) and secrets.compare_digest(value.encode(), self.token.encode())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        auth = request.headers.get("authorization", "")
        bearer = auth[7:].strip() if auth.lower().startswith("bearer ") else None
        if self._matches(bearer) or self._matches(request.cookies.get(COOKIE)):
            await self.app(scope, receive, send)
            return
        if self._matches(request.query_params.get("token")):
            if request.method == "GET" and not request.url.path.startswith("/api/"):
                query = urlencode([(k, v) for k, v in request.query_params.multi_items() if k != "token"])
                response = RedirectResponse(request.url.path + (f"?{query}" if query else ""), status_code=303)
                response.set_cookie(COOKIE, self.token, httponly=True, samesite="strict")
                await response(scope, receive, send)
                return
            await self.app(scope, receive, send)
            return
        if request.url.path.startswith("/api/") or request.url.path == "/openapi.json":
            response = JSONResponse({"detail": "this server needs its token: send 'Authorization: Bearer TOKEN' "
                                               "(or open the page once with ?token=TOKEN)"}, status_code=401,
                                    headers={"WWW-Authenticate": "Bearer"})
        else:
            response = PlainTextResponse("This molmtl server needs its token: open the address molmtl serve printed "
                                         "(it ends in ?token=...).", status_code=401)
        await response(scope, receive, send)


class BodyLimit:
    """Refuse a request body over ``limit`` bytes with 413 (by its Content-Length, or as it streams:
    the application is then told the client went away, and its answer is replaced by the 413)."""

    def __init__(self, app: ASGIApp, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.limit):
            await self._refuse(scope, receive, send)
            return
        seen, too_large, started = 0, False, False

        async def counted() -> Message:
            nonlocal seen, too_large
            if too_large:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    too_large = True
                    return {"type": "http.disconnect"}
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            if too_large:
                return  # the application's answer to a body it never got whole
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except Exception:
            if not too_large:
                raise
        if too_large and not started:
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = {"detail": f"the request body is larger than this server takes ({self.limit:,} bytes)"}
        await JSONResponse(body, status_code=413)(scope, receive, send)


class SecurityHeaders:
    """Add the content security policy and its companions to every response (and no-store to the API's)."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        api = scope.get("path", "").startswith("/api/")

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", [])) + _HEADERS
                if api:
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


def loopback_hosts(extra: tuple[str, ...] = ()) -> list[str]:
    """The Host names a loopback server answers (others are a DNS-rebinding page's requests)."""
    return ["127.0.0.1", "localhost", "::1", "[::1]", *extra]


__all__ = ["TokenAuth", "BodyLimit", "SecurityHeaders", "loopback_hosts", "COOKIE", "CONTENT_SECURITY_POLICY"]
