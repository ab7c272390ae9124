"""Instants clients may send: aware, and within years the engine can add durations to."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime

__all__ = ["Instant"]

_EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
_LATEST = datetime(2999, 12, 31, tzinfo=UTC)


def _in_range(value: datetime) -> datetime:
    if not _EARLIEST <= value <= _LATEST:
        raise ValueError("an instant between 1970 and 2999, please")
    return value


#: An aware datetime from 1970 to 2999 ("pause forever" is a date far ahead, not year 9999).
Instant = Annotated[AwareDatetime, AfterValidator(_in_range)]
