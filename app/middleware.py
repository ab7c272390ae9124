"""ASGI middleware: request ids and the access log, metrics, and the body size limit."""

from __future__ import annotations

import logging
import re
import time
import uuid

from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import problem_response
from app.logging import REQUEST_ID
from app.metrics import HTTP_REQUESTS, HTTP_SECONDS

__all__ = ["BodySizeLimit", "RequestContext"]

_access_log = logging.getLogger("kizuna.access")
_CLIENT_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
_CONVERTOR = re.compile(r":\w+}")  # `{contact_id:int}` is labelled `{contact_id}`


class RequestContext:
    """Gives every request an id (the client's `X-Request-ID` if sane), logs and counts it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = Headers(scope=scope).get("x-request-id", "")
        request_id = given if _CLIENT_REQUEST_ID.match(given) else uuid.uuid4().hex
        token = REQUEST_ID.set(request_id)
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message).append("X-Request-ID", request_id)
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = _route_label(scope)
            method = scope["method"]
            HTTP_REQUESTS.labels(method, route, str(status)).inc()
            HTTP_SECONDS.labels(method, route).observe(elapsed)
            _access_log.info("%s %s %d %.1fms", method, route, status, elapsed * 1000)
            REQUEST_ID.reset(token)


def _route_label(scope: Scope) -> str:
    """The route template (`/v1/contacts/{contact_id}`), never a raw id-bearing path.

    Starlette's own routes (the docs) leave no template behind; their paths are fixed and
    few, so they label themselves. A request no route took (a 404, or the redirect of a
    path with a trailing slash) is one label, whatever its path and answer, so no client
    can grow the metrics.
    """
    route = scope.get("route")
    if route is not None:
        return _CONVERTOR.sub("}", route.path)
    return str(scope["path"]) if "endpoint" in scope else "unmatched"


class _TooLarge(HTTPException):
    """Raised from `receive`: an HTTP error, so FastAPI's body parsing lets it through as 413."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, _too_large_detail(max_bytes))


def _too_large_detail(max_bytes: int) -> str:
    return f"The request body is larger than {max_bytes} bytes; send it in parts."


class BodySizeLimit:
    """Answers 413 to a body over `max_bytes`, declared or streamed, before it is all read."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _TooLarge(self.max_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _TooLarge:
            if started:
                raise
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem_response(413, _too_large_detail(self.max_bytes))
        await response(scope, receive, send)
