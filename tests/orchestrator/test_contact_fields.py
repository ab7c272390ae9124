"""Normalisation of emails, phones, zones and locales."""

from __future__ import annotations

import pytest
from email_validator import EmailNotValidError, validate_email
from hypothesis import example, given
from hypothesis import strategies as st

from orchestrator.contact_fields import (
    address_hash,
    check_locale,
    check_timezone,
    normalize_email,
    normalize_phone,
    region_of_locale,
)

local_parts = st.text(alphabet="abcXYZ019._%+-!#'\"@ é", min_size=0, max_size=70)
domains = st.sampled_from(
    ["example.jp", "Example.COM", "mail.example.co.jp", "bücher.example", "localhost",
     "example.test", "a..b.com", "-bad.com", "123.com", "a.b.c.d.123", "[192.0.2.1]", ""]
)  # fmt: skip


def reference(address: str) -> str | None:
    try:
        return validate_email(address, check_deliverability=False).normalized
    except EmailNotValidError:
        return None


@given(local=local_parts, domain=domains)
@example(local="Postmaster", domain="example.jp")
@example(local="a" * 65, domain="example.jp")
@example(local="taro..yamada", domain="example.jp")
def test_email_normalisation_agrees_with_email_validator(local, domain):
    address = f"{local}@{domain}"
    expected = reference(address)
    if expected is None:
        with pytest.raises(ValueError, match=r"."):
            normalize_email(address)
    else:
        assert normalize_email(address) == expected


@pytest.mark.parametrize(
    ("number", "region", "e164"),
    [
        ("090-1234-5678", "JP", "+819012345678"),
        ("03-1234-5678", "JP", "+81312345678"),
        ("+81 90 1234 5678", "US", "+819012345678"),
        ("(212) 555-0142", "US", "+12125550142"),
    ],
)
def test_phone_numbers_become_e164(number, region, e164):
    assert normalize_phone(number, region) == e164


@pytest.mark.parametrize("number", ["12", "090-1234", "not a number", "+81 00 0000 0000"])
def test_impossible_phone_numbers_are_refused(number):
    with pytest.raises(ValueError, match="phone number"):
        normalize_phone(number, "JP")


def test_time_zones_come_from_the_iana_database():
    assert check_timezone("America/New_York") == "America/New_York"
    for bad in ("JST", "Asia/Nowhere", "", "../etc/passwd"):
        with pytest.raises(ValueError, match="IANA"):
            check_timezone(bad)


def test_locales_are_language_tags_and_may_name_a_region():
    assert check_locale("ja_JP") == "ja-JP"
    assert region_of_locale("ja-JP") == "JP"
    assert region_of_locale("zh-Hant-TW") == "TW"
    assert region_of_locale("ja") is None
    with pytest.raises(ValueError, match="language tag"):
        check_locale("日本語")


def test_address_hashes_differ_by_channel_and_keep_the_case_of_the_key():
    assert address_hash("email", "sato@example.jp") != address_hash("phone", "sato@example.jp")
    assert address_hash("sns", "x:@Sato") != address_hash("sns", "x:@sato")
