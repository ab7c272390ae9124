"""Email providers' webhooks: each provider's signature check and format, as plain events."""

from channels.email.adapter import EmailChannel
from channels.email.providers.base import (
    InvalidSignature,
    ProviderEvent,
    UnreadablePayload,
    Verified,
    WebhookVerifier,
)
from channels.email.providers.mailgun import MailgunVerifier
from channels.email.providers.postmark import PostmarkVerifier
from channels.email.providers.sendgrid import SendGridVerifier
from channels.email.providers.ses import SesVerifier
from channels.email.providers.standard import StandardVerifier

__all__ = [
    "CHANNEL",
    "InvalidSignature",
    "MailgunVerifier",
    "PostmarkVerifier",
    "ProviderEvent",
    "SendGridVerifier",
    "SesVerifier",
    "StandardVerifier",
    "UnreadablePayload",
    "Verified",
    "WebhookVerifier",
]

#: The channel these providers report on.
CHANNEL = EmailChannel.name
