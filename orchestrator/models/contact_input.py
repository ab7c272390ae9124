"""A contact as clients send it: validated and normalised before anything is stored."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from orchestrator.contact_fields import (
    PHONE_REGION,
    check_locale,
    check_timezone,
    normalize_email,
    normalize_phone,
    region_of_locale,
)
from orchestrator.messages import shown
from orchestrator.models.checks import storable
from orchestrator.models.contact import ContactBase

__all__ = ["ContactUpsert", "PostalAddress"]


class PostalAddress(BaseModel):
    """A postal address for direct mail; a Japanese one puts the 都道府県 in `region`."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="before")
    @classmethod
    def _storable(cls, value: Any) -> Any:
        return storable(value)

    recipient: str | None = Field(default=None, max_length=200)
    postal_code: str = Field(min_length=1, max_length=16)
    country: str = Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2")
    region: str | None = Field(default=None, max_length=100)
    locality: str = Field(min_length=1, max_length=100)
    line1: str = Field(min_length=1, max_length=200)
    line2: str | None = Field(default=None, max_length=200)


class ContactUpsert(ContactBase):
    """A contact as a client sends it: the fields given are set, the others keep their value.

    National phone numbers (`090-1234-5678`) are read in the region of the contact's
    locale, else in `PHONE_REGION`; every number is stored in E.164.
    """

    # SQLModel types its config as a ConfigDict of its own, with two keys more.
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)  # type: ignore[assignment]

    # What a client sends differs here from what is stored: the key is required, a phone
    # number may arrive formatted, an address is checked, and `null` asks for the default
    # (types other than the base's on purpose, hence mypy's ignores).
    external_id: str = Field(min_length=1, max_length=255)
    phone: str | None = Field(default=None, max_length=64)
    address: PostalAddress | None = None  # type: ignore[assignment]
    social: dict[str, str] | None = Field(  # type: ignore[assignment]
        default=None, description=ContactBase.model_fields["social"].description
    )
    timezone: str | None = None  # type: ignore[assignment]
    attributes: dict[str, Any] | None = None  # type: ignore[assignment]

    @field_validator("*", mode="before")
    @classmethod
    def _storable(cls, value: Any) -> Any:
        return storable(value)

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        return None if value is None else normalize_email(value)

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str | None) -> str | None:
        return None if value is None else check_timezone(value)

    @field_validator("locale")
    @classmethod
    def _locale(cls, value: str | None) -> str | None:
        return None if value is None else check_locale(value)

    @field_validator("social")
    @classmethod
    def _social(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        if value is None:
            return None
        problems = [
            f"network {shown(name)} must be a lower-case name such as 'linkedin'"
            for name in value
            if not (0 < len(name) <= 32 and name.isascii() and name.islower())
        ]
        problems += [
            f"handle for {shown(name)} must be 1 to 255 characters"
            for name, handle in value.items()
            if not 0 < len(handle.strip()) <= 255
        ]
        if problems:
            raise ValueError("; ".join(problems))
        return {name: handle.strip() for name, handle in value.items()}

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        region = region_of_locale(info.data.get("locale")) or PHONE_REGION.get()
        return normalize_phone(value, region)
