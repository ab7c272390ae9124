"""Email over SMTP."""

from channels.email.adapter import EmailChannel
from channels.email.transport import MemorySmtp, SmtpConfig, SmtpPool, SmtpTransport

__all__ = ["EmailChannel", "MemorySmtp", "SmtpConfig", "SmtpPool", "SmtpTransport"]
