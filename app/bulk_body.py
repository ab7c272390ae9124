"""Reading a bulk request's rows from a JSON array or NDJSON, within the row limit."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request

from app.errors import NotJson
from orchestrator.errors import DomainError, InvalidInput, TooLarge

__all__ = ["JSON_TYPES", "NDJSON_TYPES", "UnsupportedMediaType", "read_rows"]

JSON_TYPES = ("application/json",)
NDJSON_TYPES = ("application/x-ndjson", "application/ndjson", "application/jsonl")


class UnsupportedMediaType(DomainError):
    status = 415
    type = "unsupported-media-type"
    title = "Unsupported media type"


async def read_rows(request: Request, max_rows: int) -> list[Any]:
    """The rows of the body. A body that cannot be read as rows at all stores nothing.

    A line of NDJSON that is not JSON means the upload itself is damaged (cut off,
    mis-encoded), so the request fails as a whole; a row that is JSON but not a valid
    contact is the service's to report, row by row. The rows are read as every other route
    reads its body (the standard library's reader), so a value no database stores (a lone
    surrogate, an integer beyond 64 bits, `NaN`, `1e400`) reaches validation as it was sent
    and is reported at its field.
    """
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    body = await request.body()
    if media_type in NDJSON_TYPES:
        rows = _ndjson_rows(body)
    elif media_type in JSON_TYPES or not media_type:
        rows = _json_rows(body)
    else:
        raise UnsupportedMediaType(
            f"Send a JSON array ({JSON_TYPES[0]}) or NDJSON ({NDJSON_TYPES[0]}), not {media_type}."
        )
    if len(rows) > max_rows:
        raise TooLarge(f"{len(rows)} rows in one request; the limit is {max_rows}.")
    return rows


def _json_rows(body: bytes) -> list[Any]:
    try:
        rows = json.loads(body)
    except ValueError as exc:  # not JSON, or not UTF-8
        raise NotJson(
            "The body is not JSON.",
            errors=[{"loc": ["body"], "msg": str(exc), "type": "json_invalid"}],
        ) from exc
    if not isinstance(rows, list):
        raise InvalidInput(
            "The body must be a JSON array of contacts.",
            errors=[{"loc": ["body"], "msg": "expected an array", "type": "list_type"}],
        )
    return rows


def _ndjson_rows(body: bytes) -> list[Any]:
    rows: list[Any] = []
    problems: list[dict[str, Any]] = []
    for index, line in enumerate(body.splitlines()):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except ValueError as exc:  # not JSON, or not UTF-8
            problems.append(
                {"loc": ["body", index], "msg": f"line {index + 1}: {exc}", "type": "json_invalid"}
            )
    if problems:
        raise NotJson(
            f"{len(problems)} line(s) of the NDJSON body are not JSON; nothing was stored.",
            errors=problems,
        )
    return rows
