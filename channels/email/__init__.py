"""Email over SMTP."""

from channels.email.adapter import EmailChannel, SmtpConfig

__all__ = ["EmailChannel", "SmtpConfig"]
