"""Settings: every `KIZUNA_*` environment variable of the product, validated at start."""

from __future__ import annotations

import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from channels.email.links import has_line_break
from orchestrator.contact_fields import check_timezone

__all__ = ["Settings", "get_settings"]

#: A domain name: labels of letters (any script), digits and hyphens, joined by dots.
_DOMAIN = re.compile(r"[^\W_][\w-]*(?:\.[^\W_][\w-]*)*")


class Settings(BaseSettings):
    """The service's configuration, read from `KIZUNA_*` variables (and a `.env` file)."""

    model_config = SettingsConfigDict(
        env_prefix="KIZUNA_", env_file=".env", extra="ignore", frozen=True
    )

    database_url: str = "sqlite+aiosqlite:///./kizuna.db"
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    public_url: str = "http://127.0.0.1:8000"
    secret_key: SecretStr | None = None
    admin_api_key: SecretStr | None = None
    #: When set, `/metrics` answers only `Authorization: Bearer <metrics_token>`.
    metrics_token: SecretStr | None = None

    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(default=1025, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_tls: Literal["none", "starttls", "tls"] = "none"
    smtp_pool_size: int = Field(default=4, ge=1, le=64)

    mail_from: str | None = None
    sender_name: str | None = None
    sender_postal_address: str | None = None
    #: Domains a step's `from` may use, comma-separated (`shop.example.jp,example.com`);
    #: empty: any. The envelope sender is `mail_from` whatever a step says.
    allowed_from_domains: Annotated[frozenset[str], NoDecode] = frozenset()
    #: DKIM signing of every message: all three, or none.
    dkim_domain: str | None = None
    dkim_selector: str | None = None
    dkim_private_key: Path | None = None

    dispatch_interval: float = Field(default=1.0, gt=0)
    default_timezone: str = "Asia/Tokyo"
    default_phone_region: str = Field(default="JP", min_length=2, max_length=2)

    webhook_secret: SecretStr | None = None
    sendgrid_public_key: str | None = None
    mailgun_signing_key: SecretStr | None = None
    postmark_username: str | None = None
    postmark_password: SecretStr | None = None
    ses_topic_arn: str | None = None
    #: Soft bounces in a row (no delivery between them) that suppress an address.
    soft_bounce_limit: int = Field(default=3, ge=1, le=100)
    #: Processes that render templates with loops, and how long one touch may take there.
    render_workers: int = Field(default=2, ge=1, le=64)
    render_timeout: float = Field(default=2.0, gt=0, le=60)

    sns_mode: Literal["task", "webhook"] = "task"
    sns_bridge_url: str | None = None
    sns_bridge_secret: SecretStr | None = None
    #: Constructor options of plugin channels, by channel name (JSON).
    channel_options: dict[str, dict[str, Any]] = Field(default_factory=dict)

    max_body_bytes: int = Field(default=32 * 1024 * 1024, ge=1024)
    bulk_processes: int = Field(default_factory=lambda: min(os.cpu_count() or 1, 4), ge=0, le=64)
    log_level: str = "INFO"

    @field_validator("default_timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        return check_timezone(value)

    @field_validator("default_phone_region")
    @classmethod
    def _upper_region(cls, value: str) -> str:
        return value.upper()

    @field_validator("admin_api_key")
    @classmethod
    def _strong_admin_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 24:
            raise ValueError("must be at least 24 characters; `kizuna keys create` makes one")
        return value

    @model_validator(mode="after")
    def _bridge_for_webhook_mode(self) -> Settings:
        if self.sns_mode == "webhook" and not (self.sns_bridge_url and self.sns_bridge_secret):
            raise ValueError("KIZUNA_SNS_MODE=webhook needs KIZUNA_SNS_BRIDGE_URL and _SECRET")
        return self

    @field_validator("mail_from", "sender_name", "dkim_domain", "dkim_selector")
    @classmethod
    def _one_line(cls, value: str | None) -> str | None:
        if value is not None and has_line_break(value):
            raise ValueError("goes into a mail header: no line breaks")
        return value

    @field_validator("allowed_from_domains", mode="before")
    @classmethod
    def _domain_list(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        domains = frozenset(part.strip().lower() for part in value.split(",") if part.strip())
        if any(not _DOMAIN.fullmatch(domain) for domain in domains):
            raise ValueError("a comma-separated list of domains (`shop.example.jp,example.com`)")
        return domains

    @model_validator(mode="after")
    def _whole_dkim_key(self) -> Settings:
        given = (self.dkim_domain, self.dkim_selector, self.dkim_private_key)
        if any(value is not None for value in given) and None in given:
            raise ValueError(
                "DKIM signing needs KIZUNA_DKIM_DOMAIN, KIZUNA_DKIM_SELECTOR and "
                "KIZUNA_DKIM_PRIVATE_KEY together"
            )
        return self

    @field_validator("public_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")


@lru_cache
def get_settings() -> Settings:
    """The process's settings, read once."""
    return Settings()
