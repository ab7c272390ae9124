"""The email providers whose webhooks this installation takes, configured from the settings."""

from __future__ import annotations

from app.settings import Settings
from channels.email.providers import (
    MailgunVerifier,
    PostmarkVerifier,
    SendGridVerifier,
    SesVerifier,
    StandardVerifier,
    WebhookVerifier,
)
from orchestrator.clock import Clock

__all__ = ["PROVIDERS", "build_webhook_verifiers"]

PROVIDERS = ("standard", "sendgrid", "mailgun", "postmark", "ses")


def build_webhook_verifiers(settings: Settings, clock: Clock) -> dict[str, WebhookVerifier]:
    """A verifier for each provider whose settings are given; the others answer 404."""

    def now() -> float:
        return clock.now().timestamp()

    verifiers: dict[str, WebhookVerifier] = {}
    if settings.webhook_secret is not None:
        verifiers["standard"] = StandardVerifier(settings.webhook_secret.get_secret_value(), now)
    if settings.sendgrid_public_key:
        verifiers["sendgrid"] = SendGridVerifier(settings.sendgrid_public_key)
    if settings.mailgun_signing_key is not None:
        verifiers["mailgun"] = MailgunVerifier(settings.mailgun_signing_key.get_secret_value(), now)
    if settings.postmark_username and settings.postmark_password is not None:
        verifiers["postmark"] = PostmarkVerifier(
            settings.postmark_username, settings.postmark_password.get_secret_value()
        )
    if settings.ses_topic_arn:
        verifiers["ses"] = SesVerifier(settings.ses_topic_arn)
    return verifiers
