"""Tracking tokens: short, URL-safe, bound to one touch and one purpose, unforgeable."""

from __future__ import annotations

import re

import pytest

from orchestrator.tracking import LinkMaker, TokenSigner, Tracked

SIGNER = TokenSigner("a secret of the installation")


def test_a_token_names_its_touch_and_link_and_is_short_and_url_safe():
    token = SIGNER.make("click", 9_007_199_254_740_993, 12)
    assert SIGNER.read("click", token) == Tracked(9_007_199_254_740_993, 12)
    assert re.fullmatch(r"[A-Za-z0-9._-]{1,40}", token)
    assert SIGNER.read("open", SIGNER.make("open", 5)) == Tracked(5)


@pytest.mark.parametrize(
    "forged",
    [
        lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),  # another signature
        lambda t: "6" + t[1:],  # another touch, the same signature
        lambda t: t.replace(".3.", ".4."),  # another link
        lambda t: t + "x",
        lambda t: "",
    ],
)
def test_a_tampered_token_reads_as_nothing(forged):
    token = SIGNER.make("click", 5, 3)
    assert SIGNER.read("click", forged(token)) is None


def test_a_token_is_good_for_its_purpose_and_its_installation_only():
    assert SIGNER.read("unsubscribe", SIGNER.make("open", 5)) is None
    assert SIGNER.read("open", SIGNER.make("click", 5, 0)) is None
    assert TokenSigner("another secret").read("open", SIGNER.make("open", 5)) is None


def test_the_links_of_a_touch_sit_under_the_public_url():
    links = LinkMaker("https://k.example/", SIGNER).for_touch(5)
    assert links.click(2) == f"https://k.example/t/c/{SIGNER.make('click', 5, 2)}"
    assert links.open == f"https://k.example/t/o/{SIGNER.make('open', 5)}"
    assert links.unsubscribe == f"https://k.example/u/{SIGNER.make('unsubscribe', 5)}"
