"""What the policy answers for one candidate touch: allow, defer until a time, or block."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

__all__ = ["Allow", "Block", "Decision", "Defer"]


@dataclass(frozen=True)
class Allow:
    """The touch may go out now."""

    kind = "allow"


@dataclass(frozen=True)
class Defer:
    """Not now: `until` is the earliest instant at which every rule allows it."""

    until: datetime
    rule: str
    reason: str
    kind = "defer"


@dataclass(frozen=True)
class Block:
    """Not at all: `rule` names what stopped it, `reason` says so in a sentence."""

    rule: str
    reason: str
    kind = "block"


Decision = Allow | Defer | Block
