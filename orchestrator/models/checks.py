"""Checks shared by every input model."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from typing import Any, TypeVar

from pydantic import ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError

__all__ = ["MAX_DEPTH", "storable"]

T = TypeVar("T")

#: The integers a PostgreSQL `bigint` and every JSON reader of ours hold exactly.
_SMALLEST, _LARGEST = -(2**63), 2**63 - 1
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def storable(value: T) -> T:
    """Refuse what neither PostgreSQL nor JSON stores faithfully, at its place in `value`:
    U+0000 and lone surrogates in text, integers beyond 64 bits, NaN and infinities."""
    found = list(_unstorable(value, ()))
    if found:
        raise ValidationError.from_exception_data(
            "storable",
            [
                InitErrorDetails(type=PydanticCustomError("storable", message), loc=loc, input=None)
                for loc, message in found
            ],
        )
    return value


#: How deep JSON may nest: far beyond any campaign or contact, and far below where walking
#: it (here, in pydantic, in the checks of a campaign's graph) would exhaust the stack.
MAX_DEPTH = 64


def _unstorable(
    value: Any, loc: tuple[str | int, ...]
) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """Each problem of `value` with its place, walked with a stack of its own: a hostile
    body may nest thousands of levels deep."""
    todo: list[tuple[Any, tuple[str | int, ...]]] = [(value, loc)]
    while todo:
        item, where = todo.pop()
        if isinstance(item, str):
            yield from ((where, problem) for problem in _text_problems(item))
        elif isinstance(item, bool):
            continue
        elif isinstance(item, int):
            if not _SMALLEST <= item <= _LARGEST:
                yield where, "an integer must lie between -2**63 and 2**63 - 1"
        elif isinstance(item, float):
            if not math.isfinite(item):
                yield where, "a number must be finite, not NaN or an infinity"
        elif isinstance(item, dict | list | tuple):
            if len(where) - len(loc) >= MAX_DEPTH:
                yield where, f"values may nest at most {MAX_DEPTH} levels deep"
                continue
            if isinstance(item, dict):
                for key in item:
                    if isinstance(key, str):
                        yield from ((where, f"{p}, in a key") for p in _text_problems(key))
                children = [(inner, (*where, key)) for key, inner in item.items()]
            else:
                children = [(inner, (*where, index)) for index, inner in enumerate(item)]
            todo.extend(reversed(children))  # in order, as they are popped


def _text_problems(text: str) -> Iterator[str]:
    if "\x00" in text:
        yield "text may not contain the NUL character (U+0000)"
    surrogate = _LONE_SURROGATE.search(text)
    if surrogate is not None:
        yield f"text may not contain a lone surrogate (U+{ord(surrogate.group()):04X})"
