"""The channels this installation knows: adapter classes registered under `kizuna.channels`."""

from __future__ import annotations

from functools import lru_cache
from importlib.metadata import entry_points

from channels.base import Channel

__all__ = ["ENTRY_POINT_GROUP", "UnknownChannel", "channel_class", "channel_names"]

ENTRY_POINT_GROUP = "kizuna.channels"


class UnknownChannel(LookupError):
    """No adapter is registered under this name."""


@lru_cache(maxsize=1)
def _classes() -> dict[str, type[Channel]]:
    classes: dict[str, type[Channel]] = {}
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        adapter = entry.load()
        if getattr(adapter, "name", None) != entry.name:
            raise TypeError(f"{entry.value} registers as {entry.name!r} but names itself otherwise")
        classes[entry.name] = adapter
    return classes


def channel_names() -> frozenset[str]:
    """Every channel a campaign, a consent record or a suppression may use."""
    return frozenset(_classes())


def channel_class(name: str) -> type[Channel]:
    """The adapter class registered as `name`."""
    try:
        return _classes()[name]
    except KeyError:
        raise UnknownChannel(name) from None
