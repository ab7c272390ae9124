"""Building the MIME message of one email touch."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from html import escape

__all__ = ["SenderIdentity", "build_message", "message_id_for"]


@dataclass(frozen=True)
class SenderIdentity:
    """Who sends: the address, and the name and postal address the law asks marketing mail
    to print (Japan's 特定電子メール法, CAN-SPAM)."""

    address: str
    name: str | None = None
    postal_address: str | None = None

    @property
    def domain(self) -> str:
        return self.address.rpartition("@")[2] or "localhost"


def message_id_for(idempotency_key: str, domain: str) -> str:
    """The Message-ID of a touch: derived from its key, so a retry reuses it."""
    return f"<{idempotency_key.replace(':', '.')}@{domain}>"


def build_message(
    *,
    sender: SenderIdentity,
    recipient: str,
    content: Mapping[str, str],
    message_id: str,
    marketing: bool,
    sent_at: datetime | None = None,
) -> EmailMessage:
    """The message: text and/or HTML (UTF-8), the sender's details on marketing mail, and
    `List-Unsubscribe` (RFC 8058 one-click) when the content carries an unsubscribe URL."""
    message = EmailMessage()
    from_address = content.get("from") or sender.address
    message["From"] = formataddr((sender.name or "", from_address))
    message["To"] = recipient
    message["Subject"] = content.get("subject", "")
    message["Message-ID"] = message_id
    message["Date"] = format_datetime(sent_at or datetime.now(UTC))
    unsubscribe = content.get("unsubscribe_url")
    if unsubscribe:
        message["List-Unsubscribe"] = f"<{unsubscribe}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    footer = _footer(sender, unsubscribe) if marketing else ""
    text, html = content.get("text"), content.get("html")
    if text is not None or html is None:
        message.set_content(
            (text or "") + (f"\n\n-- \n{footer}" if footer else ""), charset="utf-8"
        )
    if html is not None:
        html_footer = f"<hr><p>{escape(footer).replace(chr(10), '<br>')}</p>" if footer else ""
        if text is None:
            message.set_content(html + html_footer, subtype="html", charset="utf-8")
        else:
            message.add_alternative(html + html_footer, subtype="html", charset="utf-8")
    return message


def _footer(sender: SenderIdentity, unsubscribe: str | None) -> str:
    lines = [line for line in (sender.name, sender.postal_address, sender.address) if line]
    if unsubscribe:
        lines.append(f"配信停止 / Unsubscribe: {unsubscribe}")
    return "\n".join(lines)
