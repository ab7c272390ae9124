"""Checks shared by every input model."""

from __future__ import annotations

from typing import Any, TypeVar

__all__ = ["reject_nul"]

T = TypeVar("T")


def reject_nul(value: T) -> T:
    """Refuse U+0000 anywhere in a value: PostgreSQL stores it in neither text nor JSON."""
    if _has_nul(value):
        raise ValueError("text may not contain the NUL character (U+0000)")
    return value


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(key) or _has_nul(item) for key, item in value.items())
    if isinstance(value, list | tuple):
        return any(_has_nul(item) for item in value)
    return False
