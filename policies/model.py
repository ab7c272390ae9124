"""The policy document: channel weights, consent modes, and the rules."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["DEFAULT_CONSENT", "DEFAULT_WEIGHTS", "Policy"]

#: Japan's 特定電子メール法 asks prior consent for marketing mail; social messages likewise.
DEFAULT_CONSENT: dict[str, Literal["opt_in", "opt_out"]] = {
    "email": "opt_in",
    "sns": "opt_in",
    "phone": "opt_out",
    "dm": "opt_out",
}
DEFAULT_WEIGHTS: dict[str, float] = {"email": 1, "sns": 1, "dm": 2, "phone": 3}


class Policy(BaseModel):
    """The installation's contact-frequency policy."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    weights: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    consent: dict[str, Literal["opt_in", "opt_out"]] = Field(
        default_factory=lambda: dict(DEFAULT_CONSENT)
    )

    def weight(self, channel: str, override: float | None = None) -> float:
        """What one touch on `channel` costs (a step may set its own weight)."""
        return override if override is not None else self.weights.get(channel, 1.0)
