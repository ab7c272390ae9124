"""Phone calls: a task for callers, with the script rendered and an outcome form."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar, Literal

from channels.base import BaseChannel, TemplateFields

__all__ = ["PhoneChannel"]


class PhoneChannel(BaseChannel):
    """A call a caller makes to the contact's number (E.164, so it is its own suppression
    key); the answer on the form becomes a `call_outcome` event."""

    name: ClassVar[str] = "phone"
    #: A call costs a customer more attention than a mail.
    default_consent: ClassVar[Literal["opt_in", "opt_out"]] = "opt_out"
    default_weight: ClassVar[float] = 3.0
    template_fields: ClassVar[TemplateFields] = TemplateFields(
        required=frozenset({"script"}), optional=frozenset({"notes"})
    )
    example_template: ClassVar[Mapping[str, str]] = {
        "script": "{{ contact.attributes.name }}様にご挨拶し、資料送付の可否を伺う。"
    }
    address_fields: ClassVar[tuple[str, ...]] = ("phone",)
    outcomes: ClassVar[frozenset[str]] = frozenset(
        {
            "connected",
            "no_answer",
            "voicemail",
            "busy",
            "wrong_number",
            "callback",
            "interested",
            "not_interested",
            "meeting_booked",
            "do_not_call",
        }
    )
    opt_out_outcomes: ClassVar[frozenset[str]] = frozenset({"do_not_call"})
    outcome_event: ClassVar[str] = "call_outcome"
