"""The message bytes written out directly read back, through the stdlib's parser, as exactly
what was put in: any subject, sender name and bodies, Japanese, long or odd."""

from __future__ import annotations

import re
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default

from hypothesis import given, settings
from hypothesis import strategies as st

from channels.email.mime import Part, address_header, compose, unstructured

#: Text as templates render it: any character but lone surrogates, and none of the
#: characters that break a header line (a subject with one is refused before this).
_HEADER_TEXT = st.text(
    st.characters(exclude_categories=("Cs", "Cc", "Zl", "Zp")), max_size=300
).map(str.strip)
_BODY_TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=500)


def parsed(data: bytes) -> EmailMessage:
    return message_from_bytes(data, policy=default)


def headers(subject: str, name: str) -> list[tuple[str, str]]:
    return [
        ("From", address_header(name, "news@shop.example.jp")),
        ("To", "sato@example.jp"),
        ("Subject", unstructured(subject, "Subject")),
        ("Message-ID", "<7.1.0@shop.example.jp>"),
    ]


def lf_lines(text: str) -> str:
    """What a text body reads back as: its lines (ended by CR, LF or CRLF) each ended by LF."""
    lines = re.split(r"\r\n|\r|\n", text)
    if lines[-1] == "":
        lines.pop()
    return "".join(line + "\n" for line in lines) or "\n"  # an empty body is one line


@settings(max_examples=150, deadline=None)
@given(subject=_HEADER_TEXT, name=_HEADER_TEXT, text=_BODY_TEXT, html=_BODY_TEXT)
def test_what_is_written_reads_back_the_same(subject: str, name: str, text: str, html: str):
    data = compose(headers(subject, name), [Part("plain", text), Part("html", html)])
    assert data.isascii()
    assert max(len(line) for line in data.split(b"\r\n")) <= 998
    assert b"\n" not in data.replace(b"\r\n", b"")  # every line ends in CRLF
    message = parsed(data)
    assert message.defects == []
    assert str(message["Subject"]) == subject
    read_name = message["From"].addresses[0].display_name
    if len(name.encode()) <= 45:  # one encoded word, or plain
        assert read_name == name
    else:  # the stdlib's parser puts a space between encoded words (RFC 2047 drops it)
        assert read_name.replace(" ", "") == name.replace(" ", "")
    assert message["From"].addresses[0].addr_spec == "news@shop.example.jp"
    plain, rich = (message.get_body((kind,)) for kind in ("plain", "html"))
    assert plain is not None
    assert rich is not None
    assert plain.get_content() == lf_lines(text)
    assert rich.get_content() == lf_lines(html)


def test_short_ascii_values_go_as_they_are_and_long_ones_fold_at_their_spaces():
    assert unstructured("Autumn news", "Subject") == "Autumn news"
    long = " ".join(["word"] * 40)
    folded = unstructured(long, "Subject")
    assert all(len(line) <= 78 for line in ("Subject: " + folded).split("\r\n"))
    assert folded.replace("\r\n", "") == long


def test_text_a_reader_would_decode_is_encoded_and_japanese_goes_in_utf8_words():
    tricky = unstructured("a =?utf-8?b?QQ==?= b", "Subject")
    assert tricky.startswith("=?utf-8?b?")
    assert str(parsed(compose([("Subject", tricky)], [Part("plain", "")]))["Subject"]) == (
        "a =?utf-8?b?QQ==?= b"
    )
    words = unstructured("佐藤様、秋のご案内" * 5, "Subject").split("\r\n ")
    assert len(words) > 1
    assert all(len(word) <= 75 for word in words)


def test_one_part_stands_alone_and_two_are_alternatives():
    single = parsed(compose(headers("s", ""), [Part("plain", "本文")]))
    assert single.get_content_type() == "text/plain"
    assert single["Content-Transfer-Encoding"] == "base64"
    assert single["MIME-Version"] == "1.0"
    both = parsed(compose(headers("s", ""), [Part("plain", "a"), Part("html", "<p>a</p>")]))
    assert both.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in both.iter_parts()] == ["text/plain", "text/html"]


def test_a_plain_name_is_quoted_with_its_specials_escaped_and_its_spaces_kept():
    assert address_header('Shop,  "Tokyo"', "a@b.jp") == '"Shop,  \\"Tokyo\\"" <a@b.jp>'
    assert address_header("", "a@b.jp") == "a@b.jp"
