"""Domain errors: each carries the HTTP status and problem type the API answers with."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

__all__ = ["Conflict", "DomainError", "InvalidInput", "NotFound", "TooLarge", "problems"]


def problems(errors: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Pydantic errors as `{loc, msg, type}` problems, without echoing the input back."""
    return [
        {
            "loc": list(error.get("loc", ())),
            "msg": str(error.get("msg", "")).removeprefix("Value error, "),
            "type": error.get("type", "value_error"),
        }
        for error in errors
    ]


class DomainError(Exception):
    """A failure the client can act on; rendered as an RFC 9457 problem."""

    status: ClassVar[int] = 400
    type: ClassVar[str] = "bad-request"
    title: ClassVar[str] = "Bad request"

    def __init__(self, detail: str, *, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or []


class NotFound(DomainError):
    status = 404
    type = "not-found"
    title = "Not found"


class Conflict(DomainError):
    status = 409
    type = "conflict"
    title = "Conflict"


class InvalidInput(DomainError):
    status = 422
    type = "validation-error"
    title = "Invalid input"


class TooLarge(DomainError):
    status = 413
    type = "content-too-large"
    title = "Content too large"
