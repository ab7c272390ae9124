"""Validation of contact rows, runnable in a worker process for large bulk requests."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from orchestrator.contact_fields import PHONE_REGION
from orchestrator.errors import problems
from orchestrator.models import ContactUpsert

__all__ = ["RowError", "ValidatedRows", "validate_rows"]


@dataclass(frozen=True)
class RowError:
    """Why one row of a bulk request was not stored."""

    index: int
    external_id: str | None
    errors: list[dict[str, Any]]


@dataclass(frozen=True)
class ValidatedRows:
    """The fields each valid row sets, normalised, and the problems of every other row."""

    contacts: list[dict[str, Any]]
    errors: list[RowError]


def validate_rows(rows: Sequence[object], first_index: int, phone_region: str) -> ValidatedRows:
    """Validate `rows` (numbered from `first_index`); plain data in and out, so that a
    process pool can run it."""
    token = PHONE_REGION.set(phone_region)
    try:
        contacts: list[dict[str, Any]] = []
        errors: list[RowError] = []
        for index, row in enumerate(rows, start=first_index):
            try:
                contacts.append(ContactUpsert.model_validate(row).model_dump(exclude_unset=True))
            except ValidationError as exc:
                external_id = row.get("external_id") if isinstance(row, dict) else None
                errors.append(
                    RowError(
                        index=index,
                        external_id=external_id if isinstance(external_id, str) else None,
                        errors=problems(exc.errors(include_url=False, include_input=False)),
                    )
                )
        return ValidatedRows(contacts, errors)
    finally:
        PHONE_REGION.reset(token)
