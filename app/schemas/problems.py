"""The problem document (RFC 9457) every error answers with, as the OpenAPI schema shows it."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

__all__ = ["ProblemDetail", "ProblemDocument", "problem_responses", "problems_as_problem_json"]


class ProblemDetail(BaseModel):
    """One validation problem: where (`loc`) and what (`msg`, `type`)."""

    loc: list[str | int]
    msg: str
    type: str


class ProblemDocument(BaseModel):
    """An error: a `type` to switch on, a human `detail`, and every problem of the input."""

    type: str = Field(examples=["urn:kizuna:problem:validation-error"])
    title: str
    status: int
    detail: str
    errors: list[ProblemDetail] | None = None


_MEANINGS = {
    400: "the body is not JSON (or not UTF-8); `errors` says where it breaks",
    401: "no API key, or an unknown or revoked one",
    403: "the API key lacks the route's scope",
    404: "no such resource",
    409: "the resource is not in a state that allows this",
    413: "the body (or its number of rows) is over the limit",
    415: "the body's media type is not one this route reads",
    422: "the body is JSON but the input is invalid; `errors` lists every problem",
    503: "a dependency is unavailable",
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries for these error statuses, as problem documents."""
    return {
        status: {"model": ProblemDocument, "description": _MEANINGS[status]} for status in statuses
    }


def problems_as_problem_json(schema: dict[str, Any]) -> dict[str, Any]:
    """Declare every error response of an OpenAPI document as `application/problem+json`.

    FastAPI files a response model under `application/json`; Kizuna's errors are problem
    documents, so the schema moves to the media type they are really sent with.
    """
    for path in schema.get("paths", {}).values():
        for operation in path.values():
            for status, response in operation.get("responses", {}).items():
                content = response.get("content", {})
                if status[0] in "45" and "application/json" in content:
                    content["application/problem+json"] = content.pop("application/json")
    return schema
