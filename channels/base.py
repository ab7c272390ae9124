"""The channel protocol: what Kizuna hands an adapter, and what an adapter answers.

Everything crossing this boundary is plain data: adapters know nothing of the engine,
its tables or its settings (their configuration arrives in their constructor).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Protocol, runtime_checkable

__all__ = [
    "BaseChannel",
    "Channel",
    "ContactSnapshot",
    "Delivery",
    "DeliveryInDoubt",
    "DeliveryResult",
    "FarEndAnswer",
    "PermanentError",
    "TemplateFields",
    "TemplateProblem",
    "TrackedLinks",
    "TransientError",
]

#: How the in-memory twin of a channel's far end (relay, bridge, gateway) answers: it takes
#: the message, fails for now, refuses it for good, or refuses the contact's address (a
#: far end that can tell a dead address then raises with `address_rejected`).
FarEndAnswer = Literal["accept", "transient", "permanent", "dead_address"]


@dataclass(frozen=True)
class ContactSnapshot:
    """The contact as plain data, as it stands when the adapter is asked."""

    id: int
    external_id: str | None
    email: str | None
    phone: str | None
    address: Mapping[str, Any] | None
    social: Mapping[str, str]
    timezone: str
    locale: str | None
    attributes: Mapping[str, Any]


@dataclass(frozen=True)
class TrackedLinks:
    """The addresses at which Kizuna hears back about one touch: the tracked address of
    the touch's link number `n` (`click(n)`), its open pixel, its unsubscribe page and the
    contact's preference page."""

    click: Callable[[int], str]
    open: str
    unsubscribe: str
    preferences: str | None = None


@dataclass(frozen=True)
class Delivery:
    """One touch to carry out: who, what (already rendered), and the key that makes it once.
    `links` are where clicks, opens and unsubscribes of the touch are heard, when Kizuna
    listens for them."""

    touch_id: int
    idempotency_key: str
    channel: str
    category: Literal["marketing", "transactional"]
    contact: ContactSnapshot
    content: Mapping[str, str]
    campaign_id: int | None = None
    step_id: str | None = None
    links: TrackedLinks | None = None


@dataclass(frozen=True)
class DeliveryResult:
    """What the adapter did: its reference for the message, and anything worth keeping."""

    message_id: str | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TemplateFields:
    """The template fields a channel reads: those a step must give, and those it may."""

    required: frozenset[str]
    optional: frozenset[str] = frozenset()
    #: At least one of these must be given (email: `text` or `html`).
    one_of: frozenset[str] = frozenset()

    @property
    def known(self) -> frozenset[str]:
        return self.required | self.optional | self.one_of


@dataclass(frozen=True)
class TemplateProblem:
    """What a channel finds wrong with a step's template: at one of its fields, or at the
    template as a whole (`field` None)."""

    message: str
    field: str | None = None


class TransientError(Exception):
    """The attempt failed but may succeed later (a 4xx SMTP reply, a timeout)."""


class DeliveryInDoubt(Exception):
    """The far end may have taken the touch but never said so (its answer was lost to a
    timeout or a dropped connection). Sending it again could deliver it twice, so the
    engine leaves it `in_doubt` for an operator to resolve."""


class PermanentError(Exception):
    """The touch cannot be carried out (a 5xx SMTP reply, a rejected address).

    `address_rejected` means the address itself is dead (a hard bounce): Kizuna then
    suppresses it on the channel.
    """

    def __init__(self, message: str, *, address_rejected: bool = False) -> None:
        super().__init__(message)
        self.address_rejected = address_rejected


@runtime_checkable
class Channel(Protocol):
    """A channel adapter, registered under the entry-point group `kizuna.channels`.

    `mode` decides how touches are carried out: a `send` adapter delivers them in
    `deliver()`; a `task` adapter leaves them as tasks that workers claim over HTTP.
    The class attributes and class methods tell the engine all it knows of the channel,
    without an instance: which template fields a step gives, which contact fields are
    its addresses, and under which keys a suppression of those addresses is stored.
    """

    name: ClassVar[str]
    template_fields: ClassVar[TemplateFields]
    #: A template that fits the channel: for documentation and the contract tests.
    example_template: ClassVar[Mapping[str, str]]
    #: The contact fields the channel reaches the contact at (`email`, `phone`, ...).
    address_fields: ClassVar[tuple[str, ...]]
    #: Outcomes a worker may report for a task of this channel.
    outcomes: ClassVar[frozenset[str]]
    #: Outcomes that say the contact wants no more of the channel (an `opted_out`).
    opt_out_outcomes: ClassVar[frozenset[str]]
    #: The type of the event a completed task becomes.
    outcome_event: ClassVar[str]
    #: Consent a marketing touch needs when the policy does not say: `opt_in` (an
    #: `opted_in` record) or `opt_out` (allowed until an `opted_out`).
    default_consent: ClassVar[Literal["opt_in", "opt_out"]]
    #: What one touch costs against weighted caps when the policy does not say.
    default_weight: ClassVar[float]

    @property
    def mode(self) -> Literal["send", "task"]: ...

    @classmethod
    def check_template(cls, template: Mapping[str, str]) -> list[TemplateProblem]:
        """Problems of a step's template beyond its fields (a value out of range)."""
        ...

    def check_configured(self, template: Mapping[str, str]) -> list[TemplateProblem]:
        """Problems of a step's template under this adapter's configuration (a sender it
        may not use), beyond those `check_template` finds under any."""
        ...

    @classmethod
    def suppression_key(cls, contact: ContactSnapshot, content: Mapping[str, str]) -> str | None:
        """The key a suppression of the address this content reaches is stored under."""
        ...

    @classmethod
    def suppression_keys(cls, contact: ContactSnapshot) -> frozenset[str]:
        """The keys of every address of the contact on this channel."""
        ...

    @classmethod
    def rejected_keys(
        cls, error: PermanentError, contact: ContactSnapshot, content: Mapping[str, str]
    ) -> frozenset[str]:
        """The keys to suppress after `error` rejected the address (`address_rejected`) of
        a touch with this content."""
        ...

    @classmethod
    def probe_content(cls, contact: ContactSnapshot) -> Mapping[str, str]:
        """Content that reaches one of the contact's addresses, for questions asked
        without a step (how close is this contact to the limits on the channel?)."""
        ...

    @classmethod
    def in_memory(cls, answer: FarEndAnswer) -> Channel:
        """The adapter against an in-memory twin of its far end that answers `answer`."""
        ...

    def address(self, contact: ContactSnapshot, content: Mapping[str, str]) -> str | None:
        """Where the contact is reached for this content; None if it cannot be."""
        ...

    async def deliver(self, delivery: Delivery) -> DeliveryResult:
        """Carry out a `send` touch; raise TransientError or PermanentError on failure, or
        DeliveryInDoubt when the far end may have taken it without saying so."""
        ...

    async def close(self) -> None:
        """Release what the adapter holds (connections)."""
        ...


class BaseChannel:
    """Defaults for adapters: a task channel that reaches the contact at the first of its
    `address_fields` that holds a text, with no template rules and nothing to close."""

    name: ClassVar[str]
    template_fields: ClassVar[TemplateFields]
    example_template: ClassVar[Mapping[str, str]]
    address_fields: ClassVar[tuple[str, ...]] = ()
    outcomes: ClassVar[frozenset[str]] = frozenset()
    opt_out_outcomes: ClassVar[frozenset[str]] = frozenset()
    outcome_event: ClassVar[str] = "task_outcome"
    default_consent: ClassVar[Literal["opt_in", "opt_out"]] = "opt_out"
    default_weight: ClassVar[float] = 1.0

    @property
    def mode(self) -> Literal["send", "task"]:
        return "task"

    @classmethod
    def check_template(cls, template: Mapping[str, str]) -> list[TemplateProblem]:
        return []

    def check_configured(self, template: Mapping[str, str]) -> list[TemplateProblem]:
        return []

    @classmethod
    def suppression_key(cls, contact: ContactSnapshot, content: Mapping[str, str]) -> str | None:
        """By default the address itself, without surrounding blanks."""
        address = cls._field_address(contact)
        return address.strip() if address else None

    @classmethod
    def suppression_keys(cls, contact: ContactSnapshot) -> frozenset[str]:
        """By default the one address the channel reaches whatever the content."""
        key = cls.suppression_key(contact, cls.probe_content(contact))
        return frozenset() if key is None else frozenset({key})

    @classmethod
    def rejected_keys(
        cls, error: PermanentError, contact: ContactSnapshot, content: Mapping[str, str]
    ) -> frozenset[str]:
        """By default the address the touch went to."""
        key = cls.suppression_key(contact, content)
        return frozenset() if key is None else frozenset({key})

    @classmethod
    def probe_content(cls, contact: ContactSnapshot) -> Mapping[str, str]:
        return {}

    @classmethod
    def in_memory(cls, answer: FarEndAnswer) -> Channel:
        """A task channel has no far end: workers do its touches."""
        return cls()

    def address(self, contact: ContactSnapshot, content: Mapping[str, str]) -> str | None:
        return self._field_address(contact)

    async def deliver(self, delivery: Delivery) -> DeliveryResult:
        raise PermanentError(f"{self.name} touches are tasks for workers, not deliveries")

    async def close(self) -> None:
        return None

    @classmethod
    def _field_address(cls, contact: ContactSnapshot) -> str | None:
        for field_name in cls.address_fields:
            value = getattr(contact, field_name)
            if isinstance(value, str) and value:
                return value
        return None
