"""Direct mail: a task for the print and mailing vendor, who claims letters in batches."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar, Literal

from channels.base import BaseChannel, ContactSnapshot, TemplateFields

__all__ = ["DmChannel"]


class DmChannel(BaseChannel):
    """A letter to the contact's postal address; the vendor reports `mailed` or `returned`."""

    name: ClassVar[str] = "dm"
    default_consent: ClassVar[Literal["opt_in", "opt_out"]] = "opt_out"
    default_weight: ClassVar[float] = 2.0
    template_fields: ClassVar[TemplateFields] = TemplateFields(
        required=frozenset({"letter"}), optional=frozenset({"insert", "notes"})
    )
    outcomes: ClassVar[frozenset[str]] = frozenset({"mailed", "returned"})

    def address(self, contact: ContactSnapshot, content: Mapping[str, str]) -> str | None:
        if not contact.address:
            return None
        parts = ("postal_code", "region", "locality", "line1", "line2", "country")
        return " ".join(str(contact.address[part]) for part in parts if contact.address.get(part))
