"""What makes two spellings one address, channel by channel, and the hashes stored for it."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from channels.dm import DmChannel, postal_key
from channels.email import EmailChannel
from orchestrator.contact_fields import address_hash
from orchestrator.snapshots import address_hashes
from tests.channels.test_contract import CONTACT


@dataclass
class _Contact:
    id: int | None = 1
    external_id: str | None = "c-1"
    email: str | None = None
    phone: str | None = None
    address: dict[str, Any] | None = None
    social: dict[str, str] = field(default_factory=dict)
    timezone: str = "Asia/Tokyo"
    locale: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)


def test_email_keys_ignore_case_as_every_mailbox_provider_does():
    shouting = EmailChannel.suppression_key(
        replace(CONTACT, email=" Sato@Example.JP "), EmailChannel.example_template
    )
    assert shouting == "sato@example.jp"


def test_postal_keys_ignore_spacing_and_case():
    first = {"country": "JP", "postal_code": "150-0001", "line1": "Jingumae  1-2-3", "line2": None}
    second = {"country": "jp", "postal_code": "150-0001", "line1": "jingumae 1-2-3"}
    assert postal_key(first) == postal_key(second)
    assert DmChannel.suppression_key(replace(CONTACT, address=first), {}) == postal_key(second)


def test_the_hashes_of_the_built_in_channels_are_those_stored_suppressions_carry():
    """Suppressions stored before channels gave their own keys must still match."""
    contact = _Contact(
        email="Sato.Hanako@Example.JP",
        phone="+819012345678",
        address={"postal_code": "150-0001", "country": "JP", "locality": "渋谷区",
                 "line1": "神宮前1-2-3"},
        social={"x": "@sato", "linkedin": "sato-hanako"},
    )  # fmt: skip
    assert address_hashes(contact) == {
        "email": {"ef1a9dda317afd0c7a71a855be6dcdd79fa710fd9d828f67a0ced1bec370e10c"},
        "phone": {"b738d19b1b2ecfc4a737f4f48b8006ad8e42ce8b6305318847a1b621fd7970e5"},
        "dm": {"54928f9d8fe38067fae44fd5c89843ddfc7298203d320edb3ab107cf41293b41"},
        "sns": {
            "209992815744987298ac4b6e59a13072bf738fbc6435da65cdb409b656cf7931",
            "ce1360a0bbacbcfcefc40fc0a94669b27a38675ff5d9b8a8fd7f39235e179d88",
        },
        "pager": {address_hash("pager", "+819012345678")},
    }


def test_a_contact_without_addresses_has_no_hashes():
    assert address_hashes(_Contact()) == {}
