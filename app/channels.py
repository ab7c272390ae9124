"""The channel adapters of this process, configured from the settings."""

from __future__ import annotations

import logging
from typing import Any

from app.settings import Settings
from channels.base import Channel
from channels.email import SmtpConfig
from channels.email.message import SenderIdentity
from channels.email.signing import DkimKey
from channels.registry import channel_class, channel_names

__all__ = ["build_channels"]

_log = logging.getLogger("kizuna.channels")


def build_channels(settings: Settings) -> dict[str, Channel]:
    """Every registered channel, each given its configuration (plugins: their options).
    Warns when marketing mail would go out without the sender details the law asks for."""
    missing = [
        name
        for name, value in (
            ("KIZUNA_MAIL_FROM", settings.mail_from),
            ("KIZUNA_SENDER_NAME", settings.sender_name),
            ("KIZUNA_SENDER_POSTAL_ADDRESS", settings.sender_postal_address),
        )
        if not value
    ]
    if missing:
        _log.warning(
            "marketing mail will go out without the sender details Japan's Act on Specified "
            "Electronic Mail requires: set %s",
            ", ".join(missing),
        )
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
            "dkim": _dkim_key(settings),
            "allowed_from_domains": settings.allowed_from_domains,
        },
        "sns": {
            "mode": settings.sns_mode,
            "bridge_url": settings.sns_bridge_url,
            "bridge_secret": _secret(settings.sns_bridge_secret),
        },
        **settings.channel_options,
    }
    return {name: channel_class(name)(**options.get(name, {})) for name in channel_names()}


def _dkim_key(settings: Settings) -> DkimKey | None:
    """The DKIM key of the settings, its PEM file read once at start."""
    if settings.dkim_domain is None or settings.dkim_selector is None:
        return None
    assert settings.dkim_private_key is not None  # the settings give all three or none
    return DkimKey(
        settings.dkim_domain, settings.dkim_selector, settings.dkim_private_key.read_bytes()
    )


def _secret(value: Any) -> str | None:
    return None if value is None else str(value.get_secret_value())
