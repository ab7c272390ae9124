"""DKIM signatures (RFC 6376) of outgoing messages, with dkimpy."""

from __future__ import annotations

from dataclasses import dataclass

import dkim

__all__ = ["DkimKey"]

#: The headers a signature covers: those a receiver shows or acts on.
_SIGNED_HEADERS = (
    b"from",
    b"to",
    b"subject",
    b"date",
    b"message-id",
    b"list-unsubscribe",
    b"list-unsubscribe-post",
    b"mime-version",
    b"content-type",
)


@dataclass(frozen=True)
class DkimKey:
    """Signs as `domain` with the key published under `selector._domainkey.<domain>`."""

    domain: str
    selector: str
    private_key: bytes  # PEM

    def __post_init__(self) -> None:
        """A key that cannot sign is refused when it is configured, not at every send."""
        try:
            self.sign(b"From: check@localhost\r\n\r\n")
        except (dkim.DKIMException, ValueError) as exc:
            raise ValueError(f"the DKIM private key cannot sign: {exc}") from exc

    def sign(self, message: bytes) -> bytes:
        """The message with its `DKIM-Signature` header in front."""
        signature: bytes = dkim.sign(
            message,
            self.selector.encode(),
            self.domain.encode(),
            self.private_key,
            include_headers=list(_SIGNED_HEADERS),
        )
        return signature + message
