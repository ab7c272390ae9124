"""Quoting a client's values in messages."""

from __future__ import annotations

__all__ = ["shown"]

#: How much of a client's value a message quotes back.
_SHOWN = 64


def shown(value: object) -> str:
    """`value` as a message quotes it: its repr, cut to a readable length."""
    text = repr(value)
    return text if len(text) <= _SHOWN else f"{text[: _SHOWN - 1]}…"
