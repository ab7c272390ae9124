"""The contact's own say: at most so many touches per week or month on a channel, a channel
switched off, only the topics the contact chose.

The rule is in force for every contact whatever the policy document says (the policy in
force ends with it unless the document places it), and it only tightens: a preference
never lets through what another rule holds back. It judges marketing touches: its caps
count the contact's marketing touches on the channel, over the same history as the
policy's caps, and a topic the contact did not choose blocks a campaign of that topic.
A channel switched off is checked before any rule, with consent (`switched_off`), since it
holds transactional touches too, as an opt-out does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Final, Literal, Self

from pydantic import Field, model_validator

from policies.decision import Block
from policies.explain import a_touch, at_local
from policies.facts import Candidate, ContactFacts, CountedTouch
from policies.history import History
from policies.preferences import PERIODS, ChannelPreference, Preferences
from policies.rules.base import Reading, RuleBase

__all__ = ["PREFERENCE", "PreferenceRule", "switched_off"]

#: The name of the rule, in every decision it makes.
PREFERENCE: Final = "preference"


def switched_off(candidate: Candidate, contact: ContactFacts) -> Block | None:
    """The block of a touch on a channel the contact switched off, whatever its category."""
    chosen = contact.preferences.channels.get(candidate.channel) if contact.preferences else None
    if chosen is None or chosen.allowed:
        return None
    return Block(
        PREFERENCE, f"{PREFERENCE}: the customer asked for nothing on {candidate.channel}."
    )


class PreferenceRule(RuleBase):
    """The contact's preferences, on every channel (the policy cannot narrow it)."""

    type: Literal["preference"]
    name: Literal["preference"] = PREFERENCE
    channels: list[str] = Field(default=["*"], description="always every channel: `*`")

    @model_validator(mode="after")
    def _every_channel(self) -> Self:
        if self.channels != ["*"]:
            raise ValueError("the preference rule covers every channel: `channels` is ['*']")
        return self

    def judges(self, candidate: Candidate) -> bool:
        return candidate.category == "marketing"

    @property
    def lookback(self) -> timedelta:
        """The longest period a contact may count touches over."""
        return max(PERIODS.values())

    def earliest(
        self,
        candidate: Candidate,
        history: History,
        cost: float,
        contact: ContactFacts,
        instant: datetime,
    ) -> datetime | None:
        preferences = contact.preferences
        if preferences is None:
            return instant
        if _unchosen_topic(candidate, preferences):
            return None
        chosen = preferences.channels.get(candidate.channel)
        if chosen is None or chosen.max is None:
            return instant
        counted = _counted(history, candidate.channel, chosen, instant)
        if len(counted) < chosen.max:
            return instant
        # The oldest touches leave the window first; once one leaves, one more fits.
        window = chosen.window
        assert window is not None
        return counted[len(counted) - chosen.max].at + window

    def explain(
        self,
        candidate: Candidate,
        history: History,
        cost: float,
        contact: ContactFacts,
        now: datetime,
    ) -> str:
        preferences = contact.preferences or Preferences()
        if _unchosen_topic(candidate, preferences):
            chosen_topics = ", ".join(preferences.topics or []) or "none"
            return (
                f"{self.name}: the customer did not choose the topic {candidate.topic} "
                f"(chose: {chosen_topics})"
            )
        chosen = preferences.channels.get(candidate.channel, ChannelPreference())
        used = len(_counted(history, candidate.channel, chosen, now))
        window = chosen.window or timedelta(0)
        since = at_local(now - window, contact.timezone)
        asked = _many(chosen.max or 0, candidate.channel)
        return (
            f"{self.name}: the customer asked for at most {asked} a {chosen.per}; "
            f"{used} used since {since}"
        )

    def reading(
        self, history: History, costs: Mapping[str, float], timezone: str, now: datetime
    ) -> Reading:
        """Counts nothing without a contact's preferences (see `readings`)."""
        return Reading(None, None, now)

    def readings(
        self, history: History, preferences: Preferences | None, now: datetime
    ) -> dict[str, Reading]:
        """Each channel the contact capped: used, the cap, and when one more fits."""
        found: dict[str, Reading] = {}
        for channel, chosen in sorted((preferences or Preferences()).channels.items()):
            if chosen.max is None or not chosen.allowed:
                continue
            counted = _counted(history, channel, chosen, now)
            window = chosen.window
            assert window is not None
            free = now if len(counted) < chosen.max else counted[-chosen.max].at + window
            found[channel] = Reading(len(counted), chosen.max, free)
        return found


def _unchosen_topic(candidate: Candidate, preferences: Preferences) -> bool:
    topics = preferences.topics
    return candidate.topic is not None and topics is not None and candidate.topic not in topics


def _counted(
    history: History, channel: str, chosen: ChannelPreference, instant: datetime
) -> Sequence[CountedTouch]:
    """The contact's marketing touches on `channel` within the cap's window at `instant`."""
    window = chosen.window
    if window is None:
        return []
    return [
        touch
        for touch in history.after(instant - window)
        if touch.channel == channel and touch.category == "marketing"
    ]


def _many(count: int, channel: str) -> str:
    """`2 emails`, `1 call`, `3 fax touches`."""
    one = a_touch(channel).split(" ", 1)[1]
    if count == 1:
        return f"1 {one}"
    return f"{count} {one}es" if one.endswith(("s", "sh", "ch", "x")) else f"{count} {one}s"
