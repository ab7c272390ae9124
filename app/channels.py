"""The channel adapters of this process, configured from the settings."""

from __future__ import annotations

from typing import Any

from app.settings import Settings
from channels.base import Channel
from channels.email import SmtpConfig
from channels.email.message import SenderIdentity
from channels.registry import channel_class, channel_names

__all__ = ["build_channels"]


def build_channels(settings: Settings) -> dict[str, Channel]:
    """Every registered channel, each given its configuration (plugins: their options)."""
    options: dict[str, dict[str, Any]] = {
        "email": {
            "smtp": SmtpConfig(
                host=settings.smtp_host,
                port=settings.smtp_port,
                username=settings.smtp_username,
                password=_secret(settings.smtp_password),
                tls=settings.smtp_tls,
                pool_size=settings.smtp_pool_size,
            ),
            "sender": SenderIdentity(
                address=settings.mail_from or "kizuna@localhost",
                name=settings.sender_name,
                postal_address=settings.sender_postal_address,
            ),
        },
        "sns": {
            "mode": settings.sns_mode,
            "bridge_url": settings.sns_bridge_url,
            "bridge_secret": _secret(settings.sns_bridge_secret),
        },
        **settings.channel_options,
    }
    return {name: channel_class(name)(**options.get(name, {})) for name in channel_names()}


def _secret(value: Any) -> str | None:
    return None if value is None else str(value.get_secret_value())
