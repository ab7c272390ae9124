"""Tokens of tracked links, open pixels, unsubscribe and preference links: short, URL-safe,
signed with the installation's secret, each bound to one touch and one purpose."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from typing import Literal

from channels.base import TrackedLinks

__all__ = [
    "CLICK_PATH",
    "OPEN_PATH",
    "PREFERENCES_PATH",
    "UNSUBSCRIBE_PATH",
    "LinkMaker",
    "Purpose",
    "TokenSigner",
    "Tracked",
]

Purpose = Literal["click", "open", "unsubscribe", "preferences"]

#: Where each purpose's token is answered, under the public URL.
CLICK_PATH = "/t/c/"
OPEN_PATH = "/t/o/"
UNSUBSCRIBE_PATH = "/u/"
PREFERENCES_PATH = "/p/"

#: 96 bits of HMAC-SHA256: forging one needs about 2**95 guesses against the server.
_MAC_BYTES = 12
_TOKEN = re.compile(r"^([0-9a-z]{1,13})(?:\.([0-9a-z]{1,4}))?\.([A-Za-z0-9_-]{16})$")


@dataclass(frozen=True)
class Tracked:
    """What a valid token names: a touch and, for a click, the number of its link."""

    touch_id: int
    link: int | None = None


class TokenSigner:
    """Makes and reads tokens: `<touch>[.<link>].<mac>`, numbers in base 36."""

    def __init__(self, secret_key: str) -> None:
        # A key of its own: a token never doubles as any other signature of the secret.
        self._key = hmac.new(secret_key.encode(), b"kizuna tracking tokens", "sha256").digest()

    def make(self, purpose: Purpose, touch_id: int, link: int | None = None) -> str:
        """The token of a touch (and, for a click, of its link number `link`)."""
        payload = _base36(touch_id) if link is None else f"{_base36(touch_id)}.{_base36(link)}"
        return f"{payload}.{self._mac(purpose, payload)}"

    def read(self, purpose: Purpose, token: str) -> Tracked | None:
        """What the token names; None unless it was made here for this purpose."""
        match = _TOKEN.match(token)
        if match is None:
            return None
        touch, link, mac = match.groups()
        if (link is None) != (purpose != "click"):
            return None
        payload = touch if link is None else f"{touch}.{link}"
        if not hmac.compare_digest(mac, self._mac(purpose, payload)):
            return None
        return Tracked(int(touch, 36), None if link is None else int(link, 36))

    def _mac(self, purpose: Purpose, payload: str) -> str:
        digest = hmac.new(self._key, f"{purpose}:{payload}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest[:_MAC_BYTES]).decode()


class LinkMaker:
    """The tracked links of touches, under the installation's public URL."""

    def __init__(self, public_url: str, signer: TokenSigner) -> None:
        self._base = public_url.rstrip("/")
        self._signer = signer

    def for_touch(self, touch_id: int) -> TrackedLinks:
        signer, base = self._signer, self._base
        return TrackedLinks(
            click=lambda link: f"{base}{CLICK_PATH}{signer.make('click', touch_id, link)}",
            open=f"{base}{OPEN_PATH}{signer.make('open', touch_id)}",
            unsubscribe=f"{base}{UNSUBSCRIBE_PATH}{signer.make('unsubscribe', touch_id)}",
            preferences=f"{base}{PREFERENCES_PATH}{signer.make('preferences', touch_id)}",
        )


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    text = ""
    while True:
        number, digit = divmod(number, 36)
        text = digits[digit] + text
        if number == 0:
            return text
