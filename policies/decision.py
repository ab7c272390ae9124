"""What the policy answers for one candidate touch: allow, defer until a time, or block."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

__all__ = ["Allow", "Block", "Decision", "Defer", "Hold"]


class Hold(NamedTuple):
    """A rule that holds a touch back, and when it alone would let the touch through
    (None: never)."""

    rule: str
    free_at: datetime | None


@dataclass(frozen=True)
class Allow:
    """The touch may go out now."""

    kind = "allow"


@dataclass(frozen=True)
class Defer:
    """Not now: `until` is the earliest instant at which every rule allows it.

    `rule` is the binding rule (the one that frees last); `also` the other rules that hold
    the touch, each with its own free time; `reason` names them all in a sentence.
    """

    until: datetime
    rule: str
    reason: str
    also: tuple[Hold, ...] = ()
    kind = "defer"


@dataclass(frozen=True)
class Block:
    """Not at all: `rule` names what stopped it, `reason` says so in a sentence, `also`
    holds the other rules that held the touch back."""

    rule: str
    reason: str
    also: tuple[Hold, ...] = ()
    kind = "block"


Decision = Allow | Defer | Block
