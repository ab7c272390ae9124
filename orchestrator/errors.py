"""Domain errors: each carries the HTTP status and problem type the API answers with."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, ClassVar, get_args

from pydantic import Tag

from orchestrator.conditions import Condition
from orchestrator.definition_fields import Reentry
from orchestrator.steps import STEP_TYPES
from policies import RULE_TYPES

__all__ = [
    "Conflict",
    "DomainError",
    "InvalidInput",
    "NotFound",
    "TooLarge",
    "Unauthenticated",
    "json_path",
    "problems",
]


def _tags(union: Any) -> frozenset[str]:
    """The `Tag` of each member of an annotated union told apart by a callable."""
    members = get_args(get_args(union)[0])
    return frozenset(
        item.tag
        for member in members
        for item in getattr(member, "__metadata__", ())
        if isinstance(item, Tag)
    )


#: Names pydantic puts in an error's path for the member of a tagged union it tried.
_UNION_TAGS = frozenset(STEP_TYPES) | _tags(Condition) | frozenset(RULE_TYPES) | _tags(Reentry)
_UNION_PLACES = ("when", "audience", "not", "filter", "reentry")


def problems(errors: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Pydantic errors as `{loc, msg, type}` problems, without echoing the input back."""
    return [
        {
            "loc": json_path(error.get("loc", ())),
            "msg": str(error.get("msg", "")).removeprefix("Value error, "),
            "type": error.get("type", "value_error"),
        }
        for error in errors
    ]


def json_path(loc: Iterable[Any]) -> list[Any]:
    """The path as the client's JSON has it: pydantic adds a level naming the member of a
    tagged union it tried (`steps.0.send.channel`), and `[key]` after a mapping's key that
    is wrong (`throttle.fax.[key]`), which the JSON has not."""
    kept: list[Any] = []
    dropped = False
    for part in loc:
        if part == "[key]":
            continue
        union_place = bool(kept) and (isinstance(kept[-1], int) or kept[-1] in _UNION_PLACES)
        if part in _UNION_TAGS and union_place and not dropped:
            dropped = True
            continue
        dropped = False
        kept.append(part)
    return kept


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


class Unauthenticated(DomainError):
    """The sender of a request cannot be trusted: a bad, stale or replayed signature."""

    status = 401
    type = "unauthorized"
    title = "Unauthenticated"
