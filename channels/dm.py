"""Direct mail: a task for the print and mailing vendor, who claims letters in batches."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Literal

from channels.base import BaseChannel, ContactSnapshot, TemplateFields

__all__ = ["DmChannel", "postal_key"]


def postal_key(address: Mapping[str, Any]) -> str:
    """A postal address as one comparable string: country, postal code and street lines."""
    parts = (address.get(part) or "" for part in ("country", "postal_code", "line1", "line2"))
    return "|".join(" ".join(part.split()).lower() for part in parts)


class DmChannel(BaseChannel):
    """A letter to the contact's postal address; the vendor reports `mailed` or `returned`."""

    name: ClassVar[str] = "dm"
    default_consent: ClassVar[Literal["opt_in", "opt_out"]] = "opt_out"
    default_weight: ClassVar[float] = 2.0
    template_fields: ClassVar[TemplateFields] = TemplateFields(
        required=frozenset({"letter"}), optional=frozenset({"insert", "notes"})
    )
    example_template: ClassVar[Mapping[str, str]] = {
        "letter": "{{ contact.attributes.name }}様\n新商品のご案内です。"
    }
    address_fields: ClassVar[tuple[str, ...]] = ("address",)
    outcomes: ClassVar[frozenset[str]] = frozenset({"mailed", "returned"})

    @classmethod
    def suppression_key(cls, contact: ContactSnapshot, content: Mapping[str, str]) -> str | None:
        """The postal key: the same letterbox however the address is spelled or laid out."""
        return postal_key(contact.address) if contact.address else None

    def address(self, contact: ContactSnapshot, content: Mapping[str, str]) -> str | None:
        if not contact.address:
            return None
        parts = ("postal_code", "region", "locality", "line1", "line2", "country")
        return " ".join(str(contact.address[part]) for part in parts if contact.address.get(part))
