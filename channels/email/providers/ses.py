"""Amazon SES events delivered by SNS: the SNS envelope's signature, then the SES event."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
from cryptography import x509
from cryptography.exceptions import InvalidSignature as BadRsa
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from channels.email.providers.base import (
    BounceType,
    EventType,
    InvalidSignature,
    ProviderEvent,
    UnreadablePayload,
    Verified,
    angle_message_id,
    load_json,
    parse_instant,
)

__all__ = [
    "CertificateFetcher",
    "SesVerifier",
    "SnsEnvelope",
    "allowed_certificate_url",
    "fetch_certificate",
    "string_to_sign",
]

#: Fetches the PEM at a certificate URL `allowed_certificate_url` accepted.
CertificateFetcher = Callable[[str], Awaitable[bytes]]

_SNS_HOST = re.compile(r"sns\.[a-z0-9-]+\.amazonaws\.com(?:\.cn)?")
_SIGNED_FIELDS = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": (
        "Message",
        "MessageId",
        "SubscribeURL",
        "Timestamp",
        "Token",
        "TopicArn",
        "Type",
    ),
}
_SIGNED_FIELDS["UnsubscribeConfirmation"] = _SIGNED_FIELDS["SubscriptionConfirmation"]
_HASHES: dict[str, Callable[[], hashes.HashAlgorithm]] = {"1": hashes.SHA1, "2": hashes.SHA256}
_MAX_CERTIFICATE_BYTES = 64 * 1024
_FETCH_SECONDS = 5.0

SnsEnvelope = dict[str, Any]


def allowed_certificate_url(url: str) -> bool:
    """Whether `url` is an SNS signing certificate: `https://sns.<region>.amazonaws.com
    [.cn]/....pem`, on the default port, with no credentials in it."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return False
    return (
        parts.scheme == "https"
        and parts.hostname is not None
        and _SNS_HOST.fullmatch(parts.hostname) is not None
        and parts.netloc == parts.hostname
        and port is None
        and parts.path.endswith(".pem")
        and not parts.query
    )


def string_to_sign(envelope: Mapping[str, Any]) -> bytes:
    """The canonical `key\\nvalue\\n` text SNS signs, for the envelope's `Type`."""
    names = _SIGNED_FIELDS.get(envelope.get("Type", ""))
    if names is None:
        raise InvalidSignature("unknown SNS message type")
    lines = []
    for name in names:
        value = envelope.get(name)
        if value is None and name == "Subject":
            continue
        if not isinstance(value, str):
            raise InvalidSignature(f"the SNS message has no {name}")
        lines.append(f"{name}\n{value}\n")
    return "".join(lines).encode()


async def fetch_certificate(url: str) -> bytes:
    """The PEM at an allowed certificate URL: no redirects, a timeout and a size limit."""
    if not allowed_certificate_url(url):
        raise InvalidSignature("the certificate URL is not an SNS one")
    async with (
        httpx.AsyncClient(timeout=_FETCH_SECONDS, follow_redirects=False) as client,
        client.stream("GET", url) as response,
    ):
        if response.status_code != 200:
            raise InvalidSignature(f"the certificate URL answered {response.status_code}")
        pem = b""
        async for chunk in response.aiter_bytes():
            pem += chunk
            if len(pem) > _MAX_CERTIFICATE_BYTES:
                raise InvalidSignature("the certificate is too large")
    return pem


class SesVerifier:
    """Checks an SNS message from `topic_arn` against its signing certificate (fetched once
    per URL, from SNS hosts only), and reads the SES event in its `Message`."""

    def __init__(self, topic_arn: str, fetcher: CertificateFetcher = fetch_certificate) -> None:
        self._topic_arn = topic_arn
        self._fetch = fetcher
        self._certificates: dict[str, x509.Certificate] = {}

    async def verify(self, headers: Mapping[str, str], body: bytes) -> Verified:
        envelope = await self.check(body)
        if envelope["Type"] == "SubscriptionConfirmation":
            return Verified(subscribe_url=envelope["SubscribeURL"], topic=self._topic_arn)
        if envelope["Type"] != "Notification":
            return Verified(topic=self._topic_arn)
        message = load_json(envelope["Message"].encode())
        return Verified(events=parse_events(message, envelope["MessageId"]), topic=self._topic_arn)

    async def check(self, body: bytes) -> SnsEnvelope:
        """The envelope, once its signature, certificate and topic hold."""
        envelope = load_json(body)
        if not isinstance(envelope, dict):
            raise InvalidSignature("an SNS message is a JSON object")
        digest = _HASHES.get(str(envelope.get("SignatureVersion")))
        if digest is None:
            raise InvalidSignature("SignatureVersion must be 1 or 2")
        url = envelope.get("SigningCertURL") or envelope.get("SigningCertUrl")
        if not isinstance(url, str) or not allowed_certificate_url(url):
            raise InvalidSignature("the certificate URL is not an SNS one")
        try:
            signature = base64.b64decode(envelope.get("Signature") or "", validate=True)
        except binascii.Error as exc:
            raise InvalidSignature("the signature is not base64") from exc
        signed = string_to_sign(envelope)
        certificate = await self._certificate(url)
        sent_at = parse_instant(envelope.get("Timestamp"))
        if sent_at is None or not _valid_at(certificate, sent_at):
            raise InvalidSignature("the certificate was not valid when the message was signed")
        public_key = certificate.public_key()
        if not isinstance(public_key, rsa.RSAPublicKey):
            raise InvalidSignature("the certificate's key is not RSA")
        try:
            public_key.verify(signature, signed, padding.PKCS1v15(), digest())
        except BadRsa as exc:
            raise InvalidSignature("the signature does not match") from exc
        if envelope.get("TopicArn") != self._topic_arn:
            raise InvalidSignature("the message comes from another topic")
        return envelope

    async def _certificate(self, url: str) -> x509.Certificate:
        certificate = self._certificates.get(url)
        if certificate is None:
            try:
                certificate = x509.load_pem_x509_certificate(await self._fetch(url))
            except (ValueError, httpx.HTTPError) as exc:
                raise InvalidSignature("the signing certificate cannot be had") from exc
            self._certificates[url] = certificate
        return certificate


def _valid_at(certificate: x509.Certificate, instant: datetime) -> bool:
    return certificate.not_valid_before_utc <= instant <= certificate.not_valid_after_utc


def parse_events(message: Any, message_id: str) -> tuple[ProviderEvent, ...]:
    """One event per recipient the SES event or notification names (`eventType` from event
    publishing, `notificationType` from feedback notifications)."""
    if not isinstance(message, dict) or not isinstance(message.get("mail"), dict):
        raise UnreadablePayload("the SNS message is not an SES event")
    kind = message.get("eventType") or message.get("notificationType")
    mail = message["mail"]
    our_id = _header(mail, "Message-ID")
    event_type: EventType
    bounce_type: BounceType | None = None
    url = None
    if kind == "Bounce":
        bounce = _object(message, "bounce")
        event_type = "bounce"
        bounce_type = "hard" if bounce.get("bounceType") == "Permanent" else "soft"
        recipients = _addresses(bounce.get("bouncedRecipients"))
        occurred = bounce.get("timestamp")
    elif kind == "Complaint":
        complaint = _object(message, "complaint")
        event_type = "complaint"
        recipients = _addresses(complaint.get("complainedRecipients"))
        occurred = complaint.get("timestamp")
    elif kind == "Delivery":
        delivery = _object(message, "delivery")
        event_type = "delivered"
        recipients = [r for r in delivery.get("recipients") or [] if isinstance(r, str)]
        occurred = delivery.get("timestamp")
    elif kind in ("Open", "Click"):
        detail = _object(message, kind.lower())
        event_type = "open" if kind == "Open" else "click"
        url = detail.get("link") if isinstance(detail.get("link"), str) else None
        recipients = [r for r in mail.get("destination") or [] if isinstance(r, str)]
        occurred = detail.get("timestamp")
    else:
        return ()  # sends, rejects, delays, rendering failures: nothing to act on
    return tuple(
        ProviderEvent(
            type=event_type,
            email=email,
            event_id=message_id,
            occurred_at=parse_instant(occurred),
            message_id=our_id,
            bounce_type=bounce_type,
            url=url,
        )
        for email in recipients
    )


def _object(message: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = message.get(name)
    if not isinstance(value, dict):
        raise UnreadablePayload(f"the SES event has no `{name}` object")
    return value


def _addresses(recipients: Any) -> list[str]:
    if not isinstance(recipients, list):
        return []
    return [
        r["emailAddress"]
        for r in recipients
        if isinstance(r, dict) and isinstance(r.get("emailAddress"), str)
    ]


def _header(mail: Mapping[str, Any], name: str) -> str | None:
    """A header of the original mail, when SES was set to include them."""
    for header in mail.get("headers") or []:
        if isinstance(header, dict) and str(header.get("name", "")).lower() == name.lower():
            return angle_message_id(header.get("value"))
    return None
