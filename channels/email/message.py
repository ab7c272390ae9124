"""Building the MIME message of one email touch."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime, getaddresses
from html import escape

from channels.base import TrackedLinks
from channels.email.links import bad_link_targets, has_line_break, rewrite_links
from channels.email.mime import Part, address_header, compose, unstructured

__all__ = [
    "Mail",
    "SenderIdentity",
    "UnsendableMessage",
    "build_message",
    "message_id_for",
    "one_address",
]


class UnsendableMessage(ValueError):
    """The rendered message cannot go out as it is (a header value with a line break, a
    recipient that is not one address, a link that is not a web address)."""


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


def one_address(value: str) -> tuple[str, str] | None:
    """The display name and address of a header value that names exactly one mailbox on
    one line; None for anything else (a list, a line break, no address)."""
    if has_line_break(value):
        return None
    found = getaddresses([value])
    if len(found) != 1:
        return None
    name, address = found[0]
    local, at, domain = address.rpartition("@")
    if not (local and at and domain) or any(c in address for c in ' <>"()'):
        return None
    return name, address


@dataclass(frozen=True)
class Mail:
    """A message ready for the relay: the one recipient, and the bytes to send."""

    recipient: str
    data: bytes


def build_message(
    *,
    sender: SenderIdentity,
    recipient: str,
    content: Mapping[str, str],
    message_id: str,
    marketing: bool,
    links: TrackedLinks | None = None,
    sent_at: datetime | None = None,
) -> Mail:
    """The message: text and/or HTML (UTF-8). Where Kizuna hears back (`links`), marketing
    mail gets its links tracked, an open pixel in HTML and `List-Unsubscribe` (RFC 8058
    one-click); transactional mail gets its links tracked when the step asks
    (`track_links`). Marketing mail carries the sender's details and the unsubscribe link.
    Raises UnsendableMessage for a message that must not go out."""
    recipient_mailbox = None if "," in recipient else one_address(recipient)
    if recipient_mailbox is None or recipient_mailbox[0]:
        raise UnsendableMessage("the contact's email address is not one plain address")
    to = recipient_mailbox[1]
    subject = content.get("subject", "")
    if has_line_break(subject):
        raise UnsendableMessage("the rendered subject has a line break")
    name, address = sender.name or "", sender.address
    if content.get("from"):
        mailbox = one_address(content["from"])
        if mailbox is None:
            raise UnsendableMessage("the rendered `from` is not one address on one line")
        name, address = mailbox[0] or name, mailbox[1]
    if not (to.isascii() and address.isascii()):
        raise UnsendableMessage("addresses outside ASCII (SMTPUTF8) are not supported")
    text, html = content.get("text"), content.get("html")
    if html is not None and (bad := bad_link_targets(html)):
        raise UnsendableMessage(f"the rendered HTML links to {bad[0][:100]!r}, not a web address")
    if links is not None and (marketing or content.get("track_links") == "true"):
        rewritten = rewrite_links(content, links.click)
        text, html = rewritten.get("text"), rewritten.get("html")

    headers = [
        ("From", address_header(name, address)),
        ("To", to),
        ("Subject", unstructured(subject, "Subject")),
        ("Message-ID", message_id),
        ("Date", format_datetime(sent_at or datetime.now(UTC))),
    ]
    unsubscribe = links.unsubscribe if links is not None and marketing else None
    if unsubscribe:
        headers += [
            ("List-Unsubscribe", f"<{unsubscribe}>"),
            ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
        ]
    preferences = links.preferences if links is not None and marketing else None
    footer = _footer(sender, unsubscribe, preferences) if marketing else ""
    parts = []
    if text is not None or html is None:
        parts.append(Part("plain", (text or "") + (f"\n\n-- \n{footer}" if footer else "")))
    if html is not None:
        html += _html_footer(sender, unsubscribe, preferences) if marketing else ""
        if marketing and links is not None:
            html += f'<img src="{escape(links.open)}" width="1" height="1" alt="">'
        parts.append(Part("html", html))
    try:
        return Mail(to, compose(headers, parts))
    except UnicodeEncodeError as exc:  # a lone surrogate rendered from contact data
        raise UnsendableMessage("the rendered message is not valid Unicode") from exc


def _footer(sender: SenderIdentity, unsubscribe: str | None, preferences: str | None) -> str:
    lines = [line for line in (sender.name, sender.postal_address, sender.address) if line]
    if unsubscribe:
        lines.append(f"配信停止 / Unsubscribe: {unsubscribe}")
    if preferences:
        lines.append(f"配信設定 / Preferences: {preferences}")
    return "\n".join(lines)


def _html_footer(sender: SenderIdentity, unsubscribe: str | None, preferences: str | None) -> str:
    lines = [escape(line) for line in (sender.name, sender.postal_address, sender.address) if line]
    if unsubscribe:
        lines.append(f'<a href="{escape(unsubscribe)}">配信停止 / Unsubscribe</a>')
    if preferences:
        lines.append(f'<a href="{escape(preferences)}">配信設定 / Preferences</a>')
    return f"<hr><p>{'<br>'.join(lines)}</p>"
