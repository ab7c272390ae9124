"""The channels this installation knows: the built-in ones and plugins of `kizuna.channels`."""

from __future__ import annotations

from functools import lru_cache
from importlib.metadata import entry_points

__all__ = ["BUILTIN_CHANNELS", "ENTRY_POINT_GROUP", "channel_names"]

ENTRY_POINT_GROUP = "kizuna.channels"
BUILTIN_CHANNELS = ("email", "phone", "dm", "sns")


@lru_cache(maxsize=1)
def channel_names() -> frozenset[str]:
    """Every channel name a campaign, a consent record or a suppression may use."""
    plugins = {entry.name for entry in entry_points(group=ENTRY_POINT_GROUP)}
    return frozenset(BUILTIN_CHANNELS) | plugins
