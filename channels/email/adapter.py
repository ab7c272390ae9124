"""The email channel: messages handed to an SMTP relay through a transport."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from typing import ClassVar, Literal

from channels.base import (
    BaseChannel,
    Channel,
    ContactSnapshot,
    Delivery,
    DeliveryInDoubt,
    DeliveryResult,
    FarEndAnswer,
    PermanentError,
    TemplateFields,
    TemplateProblem,
    TransientError,
)
from channels.email.links import bad_link_targets, has_line_break, link_targets
from channels.email.message import (
    SenderIdentity,
    UnsendableMessage,
    build_message,
    message_id_for,
    one_address,
)
from channels.email.signing import DkimKey
from channels.email.transport import (
    MemorySmtp,
    SmtpAnswerLost,
    SmtpConfig,
    SmtpPool,
    SmtpRefusal,
    SmtpTransport,
    SmtpUnreachable,
)

__all__ = ["EmailChannel"]


class EmailChannel(BaseChannel):
    """Sends each touch as one message; 4xx replies are transient, 5xx permanent."""

    name: ClassVar[str] = "email"
    #: Japan's 特定電子メール法 asks prior consent for marketing mail.
    default_consent: ClassVar[Literal["opt_in", "opt_out"]] = "opt_in"
    default_weight: ClassVar[float] = 1.0
    template_fields: ClassVar[TemplateFields] = TemplateFields(
        required=frozenset({"subject"}),
        #: `track_links`: `true` tracks the links of transactional mail too.
        optional=frozenset({"from", "track_links"}),
        one_of=frozenset({"text", "html"}),
    )
    example_template: ClassVar[Mapping[str, str]] = {
        "subject": "{{ contact.attributes.name }}様、ようこそ",
        "text": "ご登録ありがとうございます。",
    }
    address_fields: ClassVar[tuple[str, ...]] = ("email",)
    outcomes: ClassVar[frozenset[str]] = frozenset()

    def __init__(
        self,
        smtp: SmtpConfig | None = None,
        sender: SenderIdentity | None = None,
        transport: SmtpTransport | None = None,
        dkim: DkimKey | None = None,
        allowed_from_domains: Collection[str] = (),
    ) -> None:
        """`transport` replaces the pool of connections to `smtp` (a MemorySmtp in tests);
        with `dkim`, every message is signed; with `allowed_from_domains`, a step's `from`
        may only use those domains. The envelope sender is always `sender`'s address."""
        self._transport = transport or SmtpPool(smtp or SmtpConfig())
        self._sender = sender or SenderIdentity(address="kizuna@localhost")
        self._dkim = dkim
        self._from_domains = frozenset(domain.lower() for domain in allowed_from_domains)

    @property
    def mode(self) -> Literal["send", "task"]:
        return "send"

    @classmethod
    def check_template(cls, template: Mapping[str, str]) -> list[TemplateProblem]:
        """Header values on one line, one sender address, links to web addresses only, and
        `track_links` a switch. Values written as template markup are judged as rendered."""
        problems = [
            TemplateProblem(f"template field {name!r} is a header value: no line breaks", name)
            for name in ("subject", "from")
            if has_line_break(template.get(name, ""))
        ]
        sender = template.get("from", "")
        if sender and "{" not in sender and not has_line_break(sender) and not one_address(sender):
            problems.append(TemplateProblem("`from` must be one email address", "from"))
        problems += [
            TemplateProblem(f"link to {target[:100]!r}: only http and https links", "html")
            for target in bad_link_targets(template.get("html", ""))
        ]
        if template.get("track_links", "false") not in ("true", "false"):
            problems.append(TemplateProblem("`track_links` is true or false", "track_links"))
        return problems

    def check_configured(self, template: Mapping[str, str]) -> list[TemplateProblem]:
        """A literal `from` of a domain this sender may not use; one written as template
        markup is judged as rendered, when the message is built."""
        sender = template.get("from", "")
        problem = None if "{" in sender else self._foreign_sender(sender)
        return [] if problem is None else [TemplateProblem(problem, "from")]

    def _foreign_sender(self, value: str) -> str | None:
        """Why `value`, one address, may not stand in `From`; None if it may (or if it is
        not one address, which is refused as such)."""
        mailbox = one_address(value) if value and self._from_domains else None
        if mailbox is None:
            return None
        domain = mailbox[1].rpartition("@")[2]
        if domain.lower() in self._from_domains:
            return None
        allowed = ", ".join(sorted(self._from_domains))
        return f"`from` may not use the domain {domain[:100]!r}; allowed: {allowed}"

    @classmethod
    def link_targets(cls, content: Mapping[str, str]) -> list[str]:
        """Where the tracked links of a touch's rendered content lead, by their number."""
        return link_targets(content)

    @classmethod
    def suppression_key(cls, contact: ContactSnapshot, content: Mapping[str, str]) -> str | None:
        """The address in lower case: every mailbox provider ignores the case of local parts."""
        return contact.email.strip().lower() if contact.email else None

    @classmethod
    def in_memory(cls, answer: FarEndAnswer) -> Channel:
        """Against a MemorySmtp that takes the message, or answers 451, 554, or 550 to the
        recipient."""
        replies: dict[FarEndAnswer, tuple[int, str] | None] = {
            "accept": None,
            "transient": (451, "4.3.0 try again later"),
            "permanent": (554, "5.7.1 message refused"),
            "dead_address": (550, "5.1.1 no such user"),
        }
        relay = MemorySmtp(replies[answer], at_recipient=answer == "dead_address")
        return cls(transport=relay)

    async def deliver(self, delivery: Delivery) -> DeliveryResult:
        """Send the message over the transport, signed when a DKIM key is set; its
        Message-ID comes from the touch. A message that must not go out fails alone."""
        recipient = delivery.contact.email
        if not recipient:
            raise PermanentError("the contact has no email address")
        foreign = self._foreign_sender(delivery.content.get("from", ""))
        if foreign is not None:
            raise PermanentError(f"the rendered {foreign}")
        message_id = message_id_for(delivery.idempotency_key, self._sender.domain)
        try:
            mail = build_message(
                sender=self._sender,
                recipient=recipient,
                content=delivery.content,
                message_id=message_id,
                marketing=delivery.category == "marketing",
                links=delivery.links,
            )
        except UnsendableMessage as exc:
            raise PermanentError(str(exc)) from exc
        data = mail.data if self._dkim is None else self._dkim.sign(mail.data)
        try:
            await self._transport.send(self._sender.address, mail.recipient, data)
        except SmtpRefusal as exc:
            if exc.at_recipient:
                raise _refused_recipient(exc.code, exc.text) from exc
            raise _by_code(exc.code, exc.text) from exc
        except SmtpUnreachable as exc:
            raise TransientError(str(exc)) from exc
        except SmtpAnswerLost as exc:
            raise DeliveryInDoubt(str(exc)) from exc
        return DeliveryResult(message_id=message_id)

    async def close(self) -> None:
        await self._transport.close()


def _by_code(code: int, text: str) -> TransientError | PermanentError:
    """4xx: try again later. 5xx: give up; a refused sender or message says nothing of the
    recipient's address."""
    if 400 <= code < 500:
        return TransientError(f"SMTP {code}: {text}")
    return PermanentError(f"SMTP {code}: {text}")


#: RFC 3463 status codes that say the mailbox itself is bad: 5.1.x (bad address or
#: domain) and 5.2.1 (mailbox disabled). 5.7.x (policy: relaying denied, blocked) does not.
_DEAD_MAILBOX = re.compile(r"5\.(?:1\.\d{1,3}|2\.1)\b")
_ENHANCED_CODE = re.compile(r"[245]\.\d{1,3}\.\d{1,3}\b")


def _refused_recipient(code: int, text: str) -> TransientError | PermanentError:
    """A refusal at RCPT TO: the address is dead only when the reply says the mailbox is;
    without an enhanced status code, 550, 551 and 553 say so by convention."""
    if 400 <= code < 500:
        return TransientError(f"SMTP {code}: {text}")
    text = text.strip()
    dead = (
        _DEAD_MAILBOX.match(text) is not None
        if _ENHANCED_CODE.match(text)
        else code in (550, 551, 553)
    )
    return PermanentError(f"SMTP {code}: {text}", address_rejected=dead)
