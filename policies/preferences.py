"""A contact's own preferences: which channels, how often on each, which topics.

They only ever narrow what the operator's policy allows. A channel left out, or `topics`
left unset, is no preference at all; `topics: []` chooses none of the operator's topics.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["PERIODS", "ChannelPreference", "Period", "Preferences", "Topic"]

Period = Literal["week", "month"]

#: A period as the customer says it, as a rolling window: a week is the last 7 days, a
#: month the last 30 (a calendar month would let four mails through in four days around
#: its turn).
PERIODS: dict[str, timedelta] = {"week": timedelta(days=7), "month": timedelta(days=30)}

#: A topic the operator lists in the policy (`新製品`, `セミナー`, `事例`).
Topic = Annotated[str, Field(min_length=1, max_length=64)]


class ChannelPreference(BaseModel):
    """On one channel: whether the contact wants it at all, and at most how many
    marketing touches per `per`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    allowed: bool = Field(
        default=True,
        description="false: nothing on this channel, transactional touches included",
    )
    max: int | None = Field(
        default=None, ge=1, le=1_000, description="at most this many marketing touches per `per`"
    )
    per: Period | None = Field(
        default=None, description="`week` (the last 7 days) or `month` (the last 30 days)"
    )

    @model_validator(mode="after")
    def _max_with_per(self) -> Self:
        if (self.max is None) != (self.per is None):
            raise ValueError("`max` and `per` go together: at most `max` touches per `per`")
        return self

    @property
    def window(self) -> timedelta | None:
        """The rolling window of the cap (None: no cap)."""
        return None if self.per is None else PERIODS[self.per]


class Preferences(BaseModel):
    """What the contact chose (`channels` by channel name; `topics` among the policy's)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    channels: dict[Annotated[str, Field(min_length=1, max_length=32)], ChannelPreference] = Field(
        default_factory=dict, max_length=32
    )
    topics: list[Topic] | None = Field(
        default=None,
        max_length=100,
        description="the topics the contact wants marketing about; null: every topic",
    )

    @model_validator(mode="after")
    def _topics_once(self) -> Self:
        if self.topics is not None and len(set(self.topics)) != len(self.topics):
            raise ValueError("each topic is chosen once")
        return self

    def is_empty(self) -> bool:
        """Whether it says nothing at all (no channel named, every topic)."""
        return not self.channels and self.topics is None
