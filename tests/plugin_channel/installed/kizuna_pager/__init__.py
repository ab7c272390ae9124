"""Pages to the contact's phone number through a paging gateway: a channel from outside
Kizuna, which knows it only through its entry point."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar, Literal

from channels.base import (
    BaseChannel,
    Channel,
    Delivery,
    DeliveryResult,
    FarEndAnswer,
    PermanentError,
    TemplateFields,
    TransientError,
)

__all__ = ["MemoryGateway", "PagerChannel"]


@dataclass
class MemoryGateway:
    """The paging gateway in memory: keeps the pages it takes, or answers `answer`."""

    answer: FarEndAnswer = "accept"
    pages: list[tuple[str, str]] = field(default_factory=list)

    async def page(self, number: str, text: str) -> int:
        """The gateway's HTTP-like status for the page."""
        statuses = {"accept": 202, "transient": 503, "permanent": 400, "dead_address": 404}
        if self.answer == "accept":
            self.pages.append((number, text))
        return statuses[self.answer]


class PagerChannel(BaseChannel):
    """A page of `text` to the contact's phone number."""

    name: ClassVar[str] = "pager"
    template_fields: ClassVar[TemplateFields] = TemplateFields(required=frozenset({"text"}))
    example_template: ClassVar[Mapping[str, str]] = {"text": "Your order has shipped."}
    address_fields: ClassVar[tuple[str, ...]] = ("phone",)

    def __init__(self, gateway: MemoryGateway | None = None) -> None:
        self.gateway = gateway or MemoryGateway()

    @property
    def mode(self) -> Literal["send", "task"]:
        return "send"

    @classmethod
    def in_memory(cls, answer: FarEndAnswer) -> Channel:
        return cls(MemoryGateway(answer))

    async def deliver(self, delivery: Delivery) -> DeliveryResult:
        number = self.address(delivery.contact, delivery.content)
        if number is None:
            raise PermanentError("the contact has no phone number")
        status = await self.gateway.page(number, delivery.content["text"])
        if status == 503:
            raise TransientError("the gateway is busy")
        if status == 404:
            raise PermanentError("the gateway knows no such number", address_rejected=True)
        if status >= 400:
            raise PermanentError(f"the gateway refused the page: {status}")
        return DeliveryResult(message_id=f"page-{delivery.idempotency_key}")
