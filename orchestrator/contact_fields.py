"""Normalisation of a contact's addresses and zone: E.164 phones, checked emails, IANA zones."""

from __future__ import annotations

import hashlib
import re
import zoneinfo
from contextvars import ContextVar
from functools import lru_cache

import phonenumbers
from email_validator import EmailNotValidError, ValidatedEmail, validate_email
from email_validator.rfc_constants import CASE_INSENSITIVE_MAILBOX_NAMES

from orchestrator.messages import shown

__all__ = [
    "PHONE_REGION",
    "address_hash",
    "check_locale",
    "check_timezone",
    "normalize_email",
    "normalize_phone",
    "region_of_locale",
]

#: The country whose national phone numbers (`090-1234-5678`) a request may send; the
#: service sets it from its settings for each request, a contact's own locale region wins.
PHONE_REGION: ContextVar[str] = ContextVar("kizuna_phone_region", default="JP")

#: A dot-atom of the most common characters: always valid, never changed by normalisation.
_PLAIN_LOCAL_PART = re.compile(r"[A-Za-z0-9_%+-]+(?:\.[A-Za-z0-9_%+-]+)*")

_LOCALE = re.compile(r"^[a-zA-Z]{2,3}(?:[-_][a-zA-Z0-9]{2,8})*$")


@lru_cache(maxsize=1)
def _zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def check_timezone(value: str) -> str:
    """Return `value` if it names a zone of the IANA database, else raise ValueError."""
    if value not in _zones():
        raise ValueError(f"{shown(value)} is not an IANA time zone (for example 'Asia/Tokyo')")
    return value


def check_locale(value: str) -> str:
    """Return a BCP 47 language tag in its usual spelling (`ja-JP`)."""
    if not _LOCALE.match(value):
        raise ValueError(f"{shown(value)} is not a language tag such as 'ja-JP'")
    return value.replace("_", "-")


def region_of_locale(locale: str | None) -> str | None:
    """The country of a language tag (`ja-JP` → `JP`), if it names one."""
    if not locale:
        return None
    for part in locale.replace("_", "-").split("-")[1:]:
        if len(part) == 2 and part.isalpha():
            return part.upper()
    return None


def normalize_phone(value: str, default_region: str) -> str:
    """A phone number in E.164 (`+819012345678`); national numbers read in `default_region`."""
    try:
        number = phonenumbers.parse(value, default_region)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"{shown(value)} is not a phone number") from exc
    if not phonenumbers.is_valid_number(number):
        raise ValueError(f"{shown(value)} is not a valid phone number for its country")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize_email(value: str) -> str:
    """A syntactically valid address, normalised as `email_validator` does; no DNS lookups.

    Checking the domain is most of the cost and a bulk import repeats a few domains
    thousands of times, so a plain local part (`taro.yamada+news`) is checked here and its
    domain once per domain; anything else goes through the validator whole.
    """
    local, at, domain = value.rpartition("@")
    if (
        at
        and len(value) <= 200
        and len(local) <= 64
        and _PLAIN_LOCAL_PART.fullmatch(local)
        and local.lower() not in CASE_INSENSITIVE_MAILBOX_NAMES
    ):
        try:
            return f"{local}@{_normalized_domain(domain)}"
        except ValueError:
            pass  # the full check below words the error
    return _validated(value).normalized


@lru_cache(maxsize=4096)
def _normalized_domain(domain: str) -> str:
    return _validated(f"x@{domain}").domain


def _validated(value: str) -> ValidatedEmail:
    try:
        return validate_email(value, check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValueError(str(exc)) from exc


def address_hash(channel: str, key: str) -> str:
    """The hash a suppression keeps instead of the address itself.

    `key` is the channel's suppression key for the address (`Channel.suppression_key`):
    the channel decides what makes two spellings one address.
    """
    return hashlib.sha256(f"{channel}:{key.strip()}".encode()).hexdigest()
