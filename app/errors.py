"""Every error as `application/problem+json` (RFC 9457), validation problems listed in full."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Route

from orchestrator.errors import DomainError, problems

__all__ = ["PROBLEM_JSON", "NotJson", "install_error_handlers", "problem_response"]

PROBLEM_JSON = "application/problem+json"
_log = logging.getLogger("kizuna.errors")

_TITLES = {
    400: ("bad-request", "Bad request"),
    401: ("unauthorized", "Missing or unknown API key"),
    403: ("forbidden", "The API key lacks the scope"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    409: ("conflict", "Conflict"),
    413: ("content-too-large", "Content too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
    422: ("validation-error", "Invalid input"),
    500: ("internal-error", "Internal error"),
}


class NotJson(DomainError):
    """The body cannot be read as JSON at all: 400, where JSON that is not a valid payload
    is 422. Nothing in such a request is stored."""


def problem_response(
    status: int,
    detail: str,
    *,
    problem_type: str | None = None,
    title: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """A problem document; `type` is a `urn:kizuna:problem:` name clients can switch on."""
    default_type, default_title = _TITLES.get(status, ("error", "Error"))
    body: dict[str, Any] = {
        "type": f"urn:kizuna:problem:{problem_type or default_type}",
        "title": title or default_title,
        "status": status,
        "detail": detail,
    }
    if errors:
        body["errors"] = errors
    return JSONResponse(
        body, status_code=status, media_type=PROBLEM_JSON, headers=dict(headers or {})
    )


async def _on_domain_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    return problem_response(
        exc.status, exc.detail, problem_type=exc.type, title=exc.title, errors=exc.errors
    )


async def _on_validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    unreadable = [error for error in exc.errors() if error.get("type") == "json_invalid"]
    if unreadable:
        return problem_response(
            400,
            "The body is not JSON.",
            errors=[
                {
                    "loc": ["body"],
                    # FastAPI puts the offset where the JSON breaks in `loc`; it is no field.
                    "msg": str(
                        json.JSONDecodeError(error["ctx"]["error"], exc.body, error["loc"][-1])
                    ),
                    "type": "json_invalid",
                }
                for error in unreadable
            ],
        )
    errors = problems(exc.errors())
    count = len(errors)
    detail = f"{count} problem{'s' if count != 1 else ''} in the request"
    return problem_response(422, detail, errors=errors)


async def _on_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = ", ".join(_allowed_methods(request))
    return problem_response(exc.status_code, str(exc.detail), headers=headers)


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at this path (Starlette names only the first route's)."""
    path = request.url.path
    methods: set[str] = set()
    for route in request.app.routes:
        if isinstance(route, Route) and route.methods and route.path_regex.match(path):
            methods |= route.methods
    return sorted(methods)


async def _on_database_down(request: Request, exc: Exception) -> JSONResponse:
    """The database cannot serve (unreachable, restarting, disk full, read-only): a 503 that
    says so, where a 500 would blame the request (and drop the kept-alive connection)."""
    if isinstance(exc, ConnectionError):
        reason = "unreachable"  # the message would name the database's address
    else:
        orig = getattr(exc, "orig", None) or exc
        reason = (str(orig).strip().splitlines() or [type(orig).__name__])[0][:120]
    _log.warning("database unavailable on %s %s: %s", request.method, request.url.path, reason)
    return problem_response(
        503,
        f"The database cannot take this request now ({reason}); it changed nothing. "
        "Try again later.",
        problem_type="database-unavailable",
        title="Database unavailable",
        headers={"Retry-After": "5"},
    )


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    _log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem_response(500, "An unexpected error occurred; the request changed nothing.")


def install_error_handlers(app: FastAPI) -> None:
    """Render every failure of `app` as a problem document."""
    app.add_exception_handler(DomainError, _on_domain_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    for unavailable in (OperationalError, InterfaceError, PoolTimeout, ConnectionError):
        app.add_exception_handler(unavailable, _on_database_down)
    app.add_exception_handler(Exception, _on_unexpected)
