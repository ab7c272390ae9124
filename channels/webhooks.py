"""Standard Webhooks (standardwebhooks.com): the signature Kizuna puts on the requests it
sends, and checks on the requests it receives."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping

__all__ = [
    "TOLERANCE_SECONDS",
    "InvalidSignature",
    "secret_key",
    "sign_webhook",
    "verify_webhook",
    "webhook_signature",
]

#: How far a request's timestamp may be from the receiver's clock, either way.
TOLERANCE_SECONDS = 5 * 60


class InvalidSignature(Exception):
    """A webhook request whose sender cannot be trusted: a missing, wrong or stale proof."""


def webhook_signature(key: bytes, message_id: str, timestamp: int, body: bytes) -> str:
    """`v1,<base64 HMAC-SHA256>` of `{id}.{timestamp}.{body}`."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def sign_webhook(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The signature of a request Kizuna sends.

    A `whsec_` secret is base64 as the specification has it; any other is used as it is.
    """
    if secret.startswith("whsec_"):
        return webhook_signature(secret_key(secret), message_id, timestamp, body)
    return webhook_signature(secret.encode(), message_id, timestamp, body)


def secret_key(secret: str) -> bytes:
    """The HMAC key of a Standard Webhooks secret: base64, with or without `whsec_`."""
    try:
        return base64.b64decode(secret.removeprefix("whsec_"), validate=True)
    except binascii.Error as exc:
        raise ValueError("a Standard Webhooks secret is base64, optionally after whsec_") from exc


def verify_webhook(
    key: bytes,
    headers: Mapping[str, str],
    body: bytes,
    now: float,
    tolerance: int = TOLERANCE_SECONDS,
) -> str:
    """Check a received request (header names in lower case); its `webhook-id`.

    Any `v1` entry of the space-separated `webhook-signature` may match; the timestamp
    must be within `tolerance` seconds of `now`.
    """
    message_id = headers.get("webhook-id", "")
    stamp = headers.get("webhook-timestamp", "")
    given = headers.get("webhook-signature", "")
    if not (message_id and stamp and given):
        raise InvalidSignature("webhook-id, webhook-timestamp and webhook-signature are required")
    if not stamp.isascii() or not stamp.isdigit():
        raise InvalidSignature("webhook-timestamp is not a number of seconds")
    timestamp = int(stamp)
    if abs(now - timestamp) > tolerance:
        raise InvalidSignature("webhook-timestamp is too far from now")
    expected = webhook_signature(key, message_id, timestamp, body).encode()
    for entry in given.split(" "):
        if entry.startswith("v1,") and hmac.compare_digest(entry.encode(), expected):
            return message_id
    raise InvalidSignature("no webhook-signature entry matches")
