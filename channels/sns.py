"""Social networks: a message or mention, done by a social seller (task mode) or posted to a
bridge service that talks to the network (webhook mode)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import ClassVar, Literal

import httpx
import orjson

from channels.base import (
    BaseChannel,
    Channel,
    ContactSnapshot,
    Delivery,
    DeliveryResult,
    FarEndAnswer,
    PermanentError,
    TemplateFields,
    TemplateProblem,
    TransientError,
)
from channels.webhooks import sign_webhook

__all__ = ["NETWORKS", "SnsChannel"]

NETWORKS = frozenset({"linkedin", "x", "facebook", "instagram"})


class SnsChannel(BaseChannel):
    """A social message to the contact's handle on `network`."""

    name: ClassVar[str] = "sns"
    default_consent: ClassVar[Literal["opt_in", "opt_out"]] = "opt_in"
    default_weight: ClassVar[float] = 1.0
    template_fields: ClassVar[TemplateFields] = TemplateFields(
        required=frozenset({"network", "message"}), optional=frozenset({"notes"})
    )
    example_template: ClassVar[Mapping[str, str]] = {
        "network": "x",
        "message": "{{ contact.attributes.name }}さん、新作のご紹介です。",
    }
    #: One handle a network: `{"x": "@sato", "linkedin": "sato-hanako"}`.
    address_fields: ClassVar[tuple[str, ...]] = ("social",)
    outcomes: ClassVar[frozenset[str]] = frozenset(
        {"sent", "replied", "connected", "not_reachable", "declined"}
    )

    def __init__(
        self,
        mode: Literal["task", "webhook"] = "task",
        bridge_url: str | None = None,
        bridge_secret: str | None = None,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if mode == "webhook" and not (bridge_url and bridge_secret):
            raise ValueError("webhook mode needs a bridge URL and a bridge secret")
        self._mode = mode
        self._bridge_url = bridge_url
        self._bridge_secret = bridge_secret
        self._http = httpx.AsyncClient(timeout=timeout, transport=transport)

    @property
    def mode(self) -> Literal["send", "task"]:
        return "send" if self._mode == "webhook" else "task"

    @classmethod
    def check_template(cls, template: Mapping[str, str]) -> list[TemplateProblem]:
        network = template.get("network")
        if network is not None and "{" not in network and network not in NETWORKS:
            known = ", ".join(sorted(NETWORKS))
            return [TemplateProblem(f"network must be one of {known}, not {network!r}", "network")]
        return []

    @classmethod
    def suppression_key(cls, contact: ContactSnapshot, content: Mapping[str, str]) -> str | None:
        """`network:handle`: a handle means nothing without its network."""
        network = content.get("network", "")
        handle = contact.social.get(network)
        return f"{network}:{handle}" if handle else None

    @classmethod
    def suppression_keys(cls, contact: ContactSnapshot) -> frozenset[str]:
        return frozenset(f"{network}:{handle}" for network, handle in contact.social.items())

    @classmethod
    def probe_content(cls, contact: ContactSnapshot) -> Mapping[str, str]:
        """The contact's first network: a step names the network, a question may not."""
        return {"network": next(iter(contact.social), "")}

    @classmethod
    def in_memory(cls, answer: FarEndAnswer) -> Channel:
        """Webhook mode against a bridge that answers 200, 503, 400 or 404. The bridge's
        answers say nothing of the handle: a 404 is a refusal like any other."""
        statuses: dict[FarEndAnswer, int] = {
            "accept": 200,
            "transient": 503,
            "permanent": 400,
            "dead_address": 404,
        }
        status = statuses[answer]
        bridge = httpx.MockTransport(lambda _: httpx.Response(status, json={"id": "memory-1"}))
        return cls("webhook", "http://bridge.invalid/touches", "in-memory", transport=bridge)

    def address(self, contact: ContactSnapshot, content: Mapping[str, str]) -> str | None:
        return contact.social.get(content.get("network", ""))

    async def deliver(self, delivery: Delivery) -> DeliveryResult:
        """Post the message to the bridge, signed; its `id` becomes the message id."""
        if self._bridge_url is None or self._bridge_secret is None:
            return await super().deliver(delivery)  # task mode: a worker does it
        network = delivery.content.get("network", "")
        body = orjson.dumps(
            {
                "touch_id": delivery.touch_id,
                "idempotency_key": delivery.idempotency_key,
                "network": network,
                "handle": delivery.contact.social.get(network),
                "message": delivery.content.get("message", ""),
                "contact": {"id": delivery.contact.id, "external_id": delivery.contact.external_id},
            }
        )
        timestamp = int(time.time())
        headers = {
            "content-type": "application/json",
            "webhook-id": delivery.idempotency_key,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign_webhook(
                self._bridge_secret, delivery.idempotency_key, timestamp, body
            ),
        }
        try:
            response = await self._http.post(self._bridge_url, content=body, headers=headers)
        except httpx.TransportError as exc:
            raise TransientError(f"bridge unreachable: {type(exc).__name__}") from exc
        if response.status_code in (408, 429) or response.status_code >= 500:
            raise TransientError(f"bridge answered {response.status_code}")
        if not response.is_success:  # a refusal, or a redirect the bridge should not send
            raise PermanentError(f"bridge refused the message: {response.status_code}")
        try:
            answer = response.json()
        except ValueError:
            answer = {}
        answer = answer if isinstance(answer, dict) else {}
        message_id = answer.get("id")
        return DeliveryResult(
            message_id=str(message_id) if message_id is not None else None, detail=answer
        )

    async def close(self) -> None:
        await self._http.aclose()
